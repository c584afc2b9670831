-- POST client_credentials with client_secret_basic (BENCH_BASIC = base64(id:secret)).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC")
wrk.body = "grant_type=client_credentials&scope=orders%3Aread"
