-- Rampart decision API: one check per request (POST /v1/authz/check).
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_BEARER")
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"subject":"user:u1","roles":["auditor"],"object":"evidence","action":"read"}'
