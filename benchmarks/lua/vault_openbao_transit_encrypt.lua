-- OpenBao Transit encrypt of one value (persists nothing).
wrk.method = "POST"
wrk.headers["X-Vault-Token"] = os.getenv("BENCH_VAULT_TOKEN")
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"plaintext":"NDExMTExMTExMTExMTExMQ=="}'
