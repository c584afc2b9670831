-- OpenBao KV v2 write: a new secret path per request (BENCH_VAULT_TOKEN).
local counter = 0
local token = os.getenv("BENCH_VAULT_TOKEN")
local prefix = tostring(math.random(1, 1e9))

request = function()
  counter = counter + 1
  local headers = { ["X-Vault-Token"] = token, ["Content-Type"] = "application/json" }
  local body = '{"data":{"pan":"tok_' .. counter .. '"}}'
  return wrk.format("POST", "/v1/secret/data/bench/" .. prefix .. "-" .. counter, headers, body)
end
