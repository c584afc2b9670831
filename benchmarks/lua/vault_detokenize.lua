-- Rampart detokenize of one card token (BENCH_PAN_TOKEN) for a purpose, audited.
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_BEARER")
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"token":"' .. os.getenv("BENCH_PAN_TOKEN") .. '","purpose":"payment.capture"}'
