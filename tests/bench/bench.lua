-- wrk script for `make bench` (tests/bench/run.sh). One script, several modes,
-- chosen by the environment:
--
--   BENCH_MODE=plain   GET the URL given to wrk
--   BENCH_MODE=cached  GET the URL's path (/api/userinfo, or the gateway's
--                      /gw/check) round-robin over the sessions listed in
--                      BENCH_POOL (already fetched once: served from the session)
--   BENCH_MODE=fresh   GET /api/userinfo, each session of BENCH_POOL used once
--                      (its first userinfo: a fetch from sgID and a decryption);
--                      the pool is split between the BENCH_WRK_THREADS threads
--   BENCH_MODE=login   complete logins: auth-url -> authorize (stand-in) ->
--                      redirect -> first userinfo; counts logins and their latency
--   BENCH_MODE=mint    logins without the userinfo step; the sessions they leave
--                      are written to BENCH_OUT for the cached and fresh modes
--   BENCH_MODE=ab      as cached, but requests alternate between the paths
--                      BENCH_AB_A and BENCH_AB_B (the gateway's /gw/check and
--                      /gw/rule: issue 23), each timed from request() to its
--                      response, matched by its X-Bench-Tag; reports each
--                      path's count, mean latency and non-200 answers
--
-- BENCH_POOL / BENCH_OUT lines: "<cookie name=value>\t<X-Bench-Route or empty>".
--
-- wrk's Lua cannot tell which connection a response came on, so a login's steps
-- are matched by a tag: each request carries X-Bench-Tag and nginx echoes it.
-- Every response queues the next step of its login; request() sends queued
-- steps first and starts a new login when nothing is queued, so each of the
-- connections always carries one step of one login.
--
-- done() prints one line that run.sh parses:
--   BENCH rps=.. p50_ms=.. p99_ms=.. requests=.. duration_s=.. bad_status=..
--         sock_errors=.. [logins=.. login_p50_ms=.. login_p99_ms=.. failed=..]
--         [fresh=.. exhausted=.. fresh_per_s=.. window_s=..]
--         [ab_a_n=.. ab_a_mean_ms=.. ab_a_bad=.. ab_b_n=.. ab_b_mean_ms=.. ab_b_bad=..]

local mode = os.getenv("BENCH_MODE") or "plain"
local nthreads = tonumber(os.getenv("BENCH_WRK_THREADS") or "1")
local icecream_path = "/api/auth-url?icecream=Vanilla"

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clk, bench_timespec *ts);
]]
local ts = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local function hget(h, name)
  local v = h[name]
  if v then return v end
  local lname = name:lower()
  for k, val in pairs(h) do
    if k:lower() == lname then return val end
  end
  return nil
end

local function path_of(url)
  return url and url:match("^https?://[^/]+(/.*)$")
end

-- Enough JSON string unescaping for a URL: \/ and \u00XX (ours escapes '&').
local function json_unescape(s)
  s = s:gsub("\\u00(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
  return (s:gsub("\\/", "/"))
end

local function read_pool(file)
  local out = {}
  local f = file and io.open(file, "r")
  if not f then return out end
  for line in f:lines() do
    local cookie, route = line:match("^([^\t]+)\t?(.*)$")
    if cookie then out[#out + 1] = { cookie = cookie, route = route } end
  end
  f:close()
  return out
end

local function userinfo_req(entry, tag, path)
  local h = { Cookie = entry.cookie }
  if entry.route and entry.route ~= "" then h["X-Bench-Route"] = entry.route end
  if tag then h["X-Bench-Tag"] = tag end
  return wrk.format("GET", path or "/api/userinfo", h)
end

-- ---- main thread: thread bookkeeping --------------------------------------

local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  threads[#threads + 1] = thread
end

-- ---- worker threads -------------------------------------------------------

pool, pos, fresh, exhausted, t_first, t_exhaust = {}, 0, 0, 0, 0, nil
logins, queue, qhead, qtail, seq = {}, {}, 1, 0, 0
completed, failed, minted, lat = 0, 0, {}, {}

function init(args)
  if mode == "cached" or mode == "fresh" or mode == "ab" then
    local all = read_pool(os.getenv("BENCH_POOL"))
    if mode == "fresh" then
      for i = 1, #all do
        if (i - 1) % nthreads == tid then pool[#pool + 1] = all[i] end
      end
    else
      pool = all
      pos = tid -- threads start at different sessions
    end
  end
end

local function push(req)
  qtail = qtail + 1
  queue[qtail] = req
end

local function new_login()
  seq = seq + 1
  local tag = tid .. ":" .. seq
  logins[tag] = { step = "auth-url", t0 = now_ms() }
  return wrk.format("GET", icecream_path, { ["X-Bench-Tag"] = tag })
end

local debug_left = tonumber(os.getenv("BENCH_DEBUG") or "0")
local function fail_login(tag, status, body)
  failed = failed + 1
  if debug_left > 0 then
    debug_left = debug_left - 1
    io.stderr:write(string.format("bench.lua: login failed at %s: status %s: %s\n",
      logins[tag].step, tostring(status), tostring(body):sub(1, 200)))
  end
  logins[tag] = nil
end

-- ---- mode ab: two paths, request by request (issue 23) ------------------

local ab_path = { a = os.getenv("BENCH_AB_A") or "/gw/check", b = os.getenv("BENCH_AB_B") or "/gw/rule" }
ab_sent, ab_n, ab_sum, ab_bad = {}, { a = 0, b = 0 }, { a = 0, b = 0 }, { a = 0, b = 0 }

local function ab_request()
  seq = seq + 1
  pos = pos % #pool + 1
  local which = (seq % 2 == 0) and "a" or "b"
  local tag = which .. tid .. ":" .. seq
  ab_sent[tag] = now_ms()
  return userinfo_req(pool[pos], tag, ab_path[which])
end

local function ab_response(status, headers, body)
  local tag = hget(headers, "X-Bench-Tag")
  local t0 = tag and ab_sent[tag]
  if not t0 then return end
  ab_sent[tag] = nil
  local which = tag:sub(1, 1)
  if status == 200 then
    ab_n[which] = ab_n[which] + 1
    ab_sum[which] = ab_sum[which] + (now_ms() - t0)
  else
    ab_bad[which] = ab_bad[which] + 1
  end
end

if mode == "ab" then
  response = ab_response
end

local function ab_report()
  local n, sum, bad = { a = 0, b = 0 }, { a = 0, b = 0 }, { a = 0, b = 0 }
  for _, t in ipairs(threads) do
    for _, w in ipairs({ "a", "b" }) do
      n[w] = n[w] + (t:get("ab_n")[w] or 0)
      sum[w] = sum[w] + (t:get("ab_sum")[w] or 0)
      bad[w] = bad[w] + (t:get("ab_bad")[w] or 0)
    end
  end
  local function mean(w) return n[w] > 0 and sum[w] / n[w] or 0 end
  return string.format(" ab_a_n=%d ab_a_mean_ms=%.4f ab_a_bad=%d ab_b_n=%d ab_b_mean_ms=%.4f ab_b_bad=%d",
    n.a, mean("a"), bad.a, n.b, mean("b"), bad.b)
end

function request()
  if mode == "ab" then
    return ab_request()
  elseif mode == "cached" then
    pos = pos % #pool + 1
    return userinfo_req(pool[pos], nil, wrk.path)
  elseif mode == "fresh" then
    if pos == 0 then t_first = now_ms() end
    pos = pos + 1
    if pos <= #pool then
      fresh = fresh + 1
      return userinfo_req(pool[pos])
    end
    -- pool used up: reuse sessions (cached profiles), counted apart; this
    -- thread's fresh rate is taken over the time until now only
    if exhausted == 0 then t_exhaust = now_ms() end
    exhausted = exhausted + 1
    return userinfo_req(pool[(pos - 1) % #pool + 1])
  elseif mode == "login" or mode == "mint" then
    if qhead <= qtail then
      local r = queue[qhead]
      queue[qhead] = nil
      qhead = qhead + 1
      return r
    end
    return new_login()
  end
  return wrk.request()
end

local function on_login_response(status, headers, body)
  local tag = hget(headers, "X-Bench-Tag")
  local L = tag and logins[tag]
  if not L then return end
  if L.step == "auth-url" then
    local url = status == 200 and body and body:match('"url"%s*:%s*"([^"]+)"')
    local sc = hget(headers, "Set-Cookie")
    local p = url and path_of(json_unescape(url))
    if not p or not sc then return fail_login(tag, status, body) end
    L.cookie = sc:match("^([^;]+)")
    L.route = hget(headers, "X-Bench-Route") or ""
    L.step = "authorize"
    push(wrk.format("GET", p, { ["X-Bench-Tag"] = tag }))
  elseif L.step == "authorize" then
    local p = status == 302 and path_of(hget(headers, "Location"))
    if not p then return fail_login(tag, status, body) end
    local h = { ["X-Bench-Tag"] = tag, Cookie = L.cookie }
    if L.route ~= "" then h["X-Bench-Route"] = L.route end
    L.step = "redirect"
    push(wrk.format("GET", p, h))
  elseif L.step == "redirect" then
    local loc = hget(headers, "Location") or ""
    if status ~= 302 or not loc:find("/logged%-in$") then return fail_login(tag, status, body) end
    local sc = hget(headers, "Set-Cookie") -- ours rotates the session id
    if sc then L.cookie = sc:match("^([^;]+)") end
    if mode == "mint" then
      minted[#minted + 1] = L.cookie .. "\t" .. L.route
      completed = completed + 1
      lat[#lat + 1] = now_ms() - L.t0
      logins[tag] = nil
      return
    end
    L.step = "userinfo"
    push(userinfo_req(L, tag))
  elseif L.step == "userinfo" then
    if status ~= 200 or not body or not body:find('"sub"', 1, true) then return fail_login(tag, status, body) end
    completed = completed + 1
    lat[#lat + 1] = now_ms() - L.t0
    logins[tag] = nil
  end
end

if mode == "login" or mode == "mint" then
  response = on_login_response
end

-- ---- report ---------------------------------------------------------------

local function pct(sorted, p)
  if #sorted == 0 then return 0 end
  local i = math.ceil(#sorted * p / 100)
  if i < 1 then i = 1 end
  return sorted[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  local dur = summary.duration / 1e6
  local line = string.format(
    "BENCH rps=%.1f p50_ms=%.3f p99_ms=%.3f requests=%d duration_s=%.3f bad_status=%d sock_errors=%d",
    summary.requests / dur, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, dur, e.status, e.connect + e.read + e.write + e.timeout)
  if mode == "login" or mode == "mint" then
    local all, n, nf = {}, 0, 0
    local out = mode == "mint" and io.open(os.getenv("BENCH_OUT"), "w")
    for _, t in ipairs(threads) do
      n = n + (t:get("completed") or 0)
      nf = nf + (t:get("failed") or 0)
      for _, v in ipairs(t:get("lat") or {}) do all[#all + 1] = v end
      if out then
        for _, m in ipairs(t:get("minted") or {}) do out:write(m, "\n") end
      end
    end
    if out then out:close() end
    table.sort(all)
    line = line .. string.format(" logins=%d logins_per_s=%.1f login_p50_ms=%.3f login_p99_ms=%.3f failed=%d",
      n, n / dur, pct(all, 50), pct(all, 99), nf)
  elseif mode == "fresh" then
    -- fresh rate: each thread's first userinfo calls over its own window
    -- (the run, or until its share of the pool ran out), summed
    local f, x, rate, wmin = 0, 0, 0, dur
    for _, t in ipairs(threads) do
      local tf, te = t:get("fresh") or 0, t:get("exhausted") or 0
      local w = dur
      if te > 0 then w = (t:get("t_exhaust") - t:get("t_first")) / 1000 end
      if w < wmin then wmin = w end
      if w > 0 then rate = rate + tf / w end
      f, x = f + tf, x + te
    end
    line = line .. string.format(" fresh=%d exhausted=%d fresh_per_s=%.1f window_s=%.3f", f, x, rate, wmin)
  elseif mode == "ab" then
    line = line .. ab_report()
  end
  io.write(line, "\n")
end
