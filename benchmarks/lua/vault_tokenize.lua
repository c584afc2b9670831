-- Rampart single tokenize of a card number (persisted and audited), bearer BENCH_BEARER.
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_BEARER")
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"value":"4111111111111111"}'
