-- Rampart batch tokenize of BENCH_BATCH card numbers per request (persisted, one audit entry).
local size = tonumber(os.getenv("BENCH_BATCH") or "1000")
local items = {}
for i = 1, size do
  items[i] = '{"value":"4111111111111111"}'
end
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_BEARER")
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"items":[' .. table.concat(items, ",") .. ']}'
