-- The dashboard overview as a logged-in compliance officer's browser asks for it: GET /dashboard
-- with the login session's cookie (RAMPART_BENCH_COOKIE, set by benchmarks/bench_dashboard.py).
local cookie = os.getenv("RAMPART_BENCH_COOKIE") or ""

function request()
  return wrk.format("GET", "/dashboard", { ["Cookie"] = cookie })
end
