-- Password logins through the real login form, CSRF included.
-- Each wrk thread first GETs /login: the response sets the pre-login cookie and carries the CSRF
-- token derived from it (HMAC of the cookie token; no server row). Every later request POSTs the
-- form with that cookie and token, exactly what a browser submitting the form sends. Only a
-- 303 (logged in) counts as success; a 401/403 shows up as a non-2xx/3xx error in wrk's output.
-- Credentials come from RAMPART_BENCH_EMAIL / RAMPART_BENCH_PASSWORD (letters and digits only).

local email = os.getenv("RAMPART_BENCH_EMAIL") or "bench@example.com"
local password = os.getenv("RAMPART_BENCH_PASSWORD") or "harbour login 2718 ferry"
local cookie = nil
local body = nil

local function urlencode(text)
  return (text:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function request()
  if body == nil then
    return wrk.format("GET", "/login?next=/account")
  end
  return wrk.format("POST", "/login", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = cookie,
  }, body)
end

function response(status, headers, response_body)
  if body ~= nil then
    return
  end
  local set_cookie = headers["set-cookie"] or headers["Set-Cookie"]
  local csrf = response_body and string.match(response_body, 'name="csrf_token" value="([^"]+)"')
  if set_cookie and csrf then
    -- Cookie and token from the same response, so they always match each other.
    cookie = string.match(set_cookie, "^([^;]+)")
    body = "email=" .. urlencode(email) .. "&password=" .. urlencode(password)
      .. "&csrf_token=" .. csrf .. "&next=%2Faccount"
  end
end
