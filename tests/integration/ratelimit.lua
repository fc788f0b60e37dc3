-- tests/integration/ratelimit.lua SCRIPT: deploy/lighttpd-ratelimit.lua's
-- logic on a clock of its own, where real lighttpd cannot take it (65 536
-- addresses, a clock stepped back, hours in a moment). Run by
-- tests/integration/run.sh with lua5.4 (the Lua mod_magnet 1.4.69 links on
-- Debian 12); prints "ok - NAME" / "not ok - NAME".
--
-- It runs SCRIPT the way mod_magnet does (src/mod_magnet.c, magnet_attract):
-- the chunk loaded once, each request in a fresh environment table whose
-- __index is the global table, with lighty.r.req_attr["uri.path"] and
-- ["request.remote-addr"], lighty.r.resp_header, lighty.r.resp_body.set and
-- lighty.c.hrtime (seconds, nanoseconds).

local chunk = assert(loadfile(assert(arg[1], "usage: ratelimit.lua SCRIPT")))
local clock = 1e9            -- seconds; moved by the cases below
local failed = 0

local function request(path, addr)
  local hdr, body = {}, nil
  local env = setmetatable({}, { __index = _G })
  env.lighty = {
    r = {
      req_attr = { ["uri.path"] = path, ["request.remote-addr"] = addr },
      resp_header = hdr,
      resp_body = { set = function(t) body = table.concat(t) end },
    },
    c = { hrtime = function()
      local s = math.floor(clock)
      return s, math.floor((clock - s) * 1e9)
    end },
  }
  debug.setupvalue(chunk, 1, env)   -- the main chunk's _ENV
  local rc = chunk()
  return rc == 429 and 429 or 0, hdr, body
end

-- burst PATH ADDR N: how many of N requests at once are let through.
local function burst(path, addr, n)
  local through = 0
  for _ = 1, n do
    if request(path, addr) ~= 429 then through = through + 1 end
  end
  return through
end

local function check(name, cond, detail)
  if cond then
    print("ok - " .. name)
  else
    failed = failed + 1
    print("not ok - " .. name)
    if detail then print("#   " .. detail) end
  end
end

local n
n = burst("/api/auth-url", "192.0.2.1", 52)
check("auth-url: 21 of 52 at once (10/s, burst 20)", n == 21, n)
n = burst("/api/login", "192.0.2.1", 52)
check("login: its own 21 of 52 from the same address", n == 21, n)
n = burst("/api/redirect", "192.0.2.1", 32)
check("redirect: 11 of 32 at once (2/s, burst 10)", n == 11, n)
n = burst("/api/health", "192.0.2.1", 100)
check("health: 100 of 100, not limited", n == 100, n)
n = burst("/api/auth-url", "192.0.2.2", 21)
check("another address: 21 of 21", n == 21, n)

local rc, hdr, body = request("/api/auth-url", "192.0.2.1")
check("a 429: Retry-After 1, text/plain, short body",
  rc == 429 and hdr["Retry-After"] == "1" and hdr["Content-Type"]:find("^text/plain") ~= nil
    and body:find("^429 Too Many Requests") ~= nil and #body < 200,
  tostring(hdr["Retry-After"]) .. " " .. tostring(hdr["Content-Type"]) .. " " .. tostring(body))
clock = clock + 0.1
n = burst("/api/auth-url", "192.0.2.1", 3)
check("auth-url: 100 ms later one more", n == 1, n)
clock = clock + 2.1
n = burst("/api/auth-url", "192.0.2.1", 52)
check("auth-url: 2.1 s later the whole burst again", n == 21, n)

local steady = 0
for _ = 1, 100 do
  clock = clock + 0.1
  steady = steady + burst("/api/auth-url", "192.0.2.3", 1)
end
check("auth-url: 10/s for 10 s, all through", steady == 100, steady)
steady = 0
for _ = 1, 100 do
  clock = clock + 0.05
  steady = steady + burst("/api/auth-url", "192.0.2.4", 1)
end
check("auth-url: 20/s for 5 s: 21 + 10/s, about 71", steady >= 70 and steady <= 72, steady)

clock = clock - 30
n = burst("/api/auth-url", "192.0.2.4", 52)
check("clock stepped back 30 s: counts start again (21), nobody locked out", n == 21, n)

local st = _G.sgid_ratelimit_v1
check("the counters are in _G.sgid_ratelimit_v1", type(st) == "table" and st.ncur ~= nil)
clock = clock + 60             -- everything above is idle and gone
request("/api/auth-url", "192.0.2.99")
clock = clock + 10
request("/api/auth-url", "192.0.2.99")
check("idle addresses are dropped (two generations later only the one in use is left)",
  st.ncur + st.nold == 1, st.ncur .. " + " .. st.nold)

-- Full: 65 536 addresses within a second.
collectgarbage()
collectgarbage()
local kb0 = collectgarbage("count")
local addr = function(i) return string.format("2001:db8:ffff:ffff:ffff:ffff:%x:%x", i // 65536, i % 65536) end
for i = 1, 65535 do request("/api/auth-url", addr(i)) end
collectgarbage()
collectgarbage()
local per = (collectgarbage("count") - kb0) * 1024 / 65535
print(string.format("# 65536 tracked (the last one 192.0.2.99): %.0f bytes each", per))
check("full: 65536 tracked, under 200 bytes each", st.ncur + st.nold == 65536 and per < 200,
  (st.ncur + st.nold) .. " tracked, " .. per .. " bytes each")
n = burst("/api/auth-url", "198.51.100.1", 30)
check("full: a new address is let through untracked (30 of 30), not refused",
  n == 30 and st.ncur + st.nold == 65536 and st.untracked >= 30, n .. ", untracked " .. st.untracked)
n = burst("/api/auth-url", addr(5), 30)
check("full: a tracked address stays limited (20 more after its 1)", n == 20, n)
clock = clock + 6
n = burst("/api/auth-url", "198.51.100.1", 30)
check("6 s later: the old generation is gone and the new address limited (21)",
  n == 21 and st.ncur + st.nold < 65536, n .. ", " .. (st.ncur + st.nold) .. " tracked")

print(string.format("# lighttpd-ratelimit.lua: %d failed", failed))
os.exit(failed == 0 and 0 or 1)
