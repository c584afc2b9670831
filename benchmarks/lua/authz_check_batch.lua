-- Rampart decision API: BENCH_BATCH checks per request (POST /v1/authz/check-batch).
-- Mixed answers: allowed, denied by a deny rule, denied by default, with and without MFA.
local size = tonumber(os.getenv("BENCH_BATCH") or "1000")
local shapes = {
  '{"subject":"user:u%d","roles":["auditor"],"object":"evidence","action":"read"}',
  '{"subject":"user:u%d","roles":["auditor"],"object":"compliance/controls","action":"update"}',
  '{"subject":"user:u%d","roles":["admin"],"object":"keys","action":"rotate","context":{"amr":["pwd","mfa"]}}',
  '{"subject":"user:u%d","object":"policies","action":"read"}',
}
local items = {}
for i = 1, size do
  items[i] = string.format(shapes[(i % #shapes) + 1], i)
end
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_BEARER")
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"checks":[' .. table.concat(items, ",") .. ']}'
