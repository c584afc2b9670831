-- OpenBao Transit batch encrypt of BENCH_BATCH values per request (persists nothing).
local size = tonumber(os.getenv("BENCH_BATCH") or "1000")
local items = {}
for i = 1, size do
  items[i] = '{"plaintext":"NDExMTExMTExMTExMTExMQ=="}'
end
wrk.method = "POST"
wrk.headers["X-Vault-Token"] = os.getenv("BENCH_VAULT_TOKEN")
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"batch_input":[' .. table.concat(items, ",") .. ']}'
