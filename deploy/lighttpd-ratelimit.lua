-- deploy/lighttpd-ratelimit.lua: per-client rate limits for lighttpd (1.4.69,
-- mod_magnet, Debian package lighttpd-modules-lua), the same as nginx's
-- limit_req lines in nginx.conf.example and deploy/gateway/nginx.conf.example.
--
-- lighttpd.conf.example runs it for every request under /api/ with
-- magnet.attract-raw-url-to (mod_magnet listed before mod_fastcgi, so it runs
-- before mod_fastcgi takes the request). It limits the paths in LIMITS below,
-- exactly as written (what lighttpd matches its conditions on: the path after
-- its own normalization, without the query), and lets everything else through
-- untouched.
--
-- The limit (GCRA, what nginx's limit_req with "burst=B nodelay" does): each
-- client address may make B+1 requests at once, then one more every 1/rate
-- seconds; past that the request is answered here with 429, a short text body
-- and Retry-After (whole seconds until one more would be let through), and
-- never reaches the app. A refused request does not count against the client.
--
-- The client is the address lighttpd sees (REMOTE_ADDR). Behind a proxy or a
-- load balancer that is the proxy's, for everyone: load mod_extforward and
-- trust the proxy's header from the proxy's address only (extforward.forwarder,
-- extforward.headers), and lighttpd puts the real client address there before
-- this script runs.
--
-- State: mod_magnet (src/mod_magnet.c, mod_magnet_cache.c) keeps one Lua
-- state per script in each lighttpd process and runs the compiled script in
-- it for every request, in an environment table of its own that it empties
-- after each run (its __index is the state's global table): plain globals
-- do not last from one request to the next, _G's fields do. The counters are
-- in _G.sgid_ratelimit_v1. When the file changes (mtime or size) mod_magnet
-- loads the new script into the same state, so the counters live on; they
-- are lost when lighttpd restarts (everyone starts with a full burst). With
-- server.max-worker N > 1 each of the N processes keeps its own counters and
-- the kernel spreads connections over them: a client may get up to N times
-- the limits (divide the rates by N, or keep lighttpd's default of one
-- process).
--
-- Memory: an address is tracked only while it still matters (until its bucket
-- is full again: 2.1 s for 10/s burst 20, 5.5 s for 2/s burst 10), in two
-- generations swapped every 5.5 s (the longest of those), so idle ones go
-- without scanning; at most MAX_TRACKED (path, address) pairs at a time,
-- about 100 bytes each with Lua 5.4 (6 MB for 65536 IPv6 addresses). Past that, a new address is let through
-- without being tracked (not limited) while every tracked one stays limited:
-- refusing new addresses instead would let anyone with more addresses than
-- that (one IPv6 /64 has 2^64) lock every other new client out. One line in
-- lighttpd's error log, at most once a minute, says how many went through so.

local LIMITS = {
  -- path                  requests/s   extra at once (nginx's burst)
  ["/api/auth-url"] = { rate = 10, burst = 20 },
  ["/api/login"]    = { rate = 10, burst = 20 },
  ["/api/redirect"] = { rate = 2,  burst = 10 },
}
local MAX_TRACKED = 65536
local BODY = "429 Too Many Requests: slow down and try again in a moment.\n"

local lighty = lighty
local r = lighty.r
local path = r.req_attr["uri.path"]
local limit = LIMITS[path]
if not limit then return 0 end

-- Seconds since the epoch, with a fraction.
local function now_s()
  local s, ns = lighty.c.hrtime()
  return s + ns / 1e9
end

-- A generation lasts longer than any bucket takes to fill again, so an entry
-- not touched for a whole generation is full and can go.
local sweep = 1
for _, l in pairs(LIMITS) do
  local full = (l.burst + 1) / l.rate
  if full > sweep then sweep = full end
end

-- "_v1": the layout of this table; a script that changes it must change the
-- name (an edited script is loaded into the same Lua state, this included).
local st = _G.sgid_ratelimit_v1
if st == nil then
  st = { cur = {}, ncur = 0, old = {}, nold = 0, curmax = 0, oldmax = 0,
         swept = now_s(), last = 0, untracked = 0, said = 0 }
  _G.sgid_ratelimit_v1 = st
end

local now = now_s()
-- The clock went back (settime, NTP step): start again rather than refuse
-- everyone for as long as it went back.
if now < st.last - 1 then
  st.cur, st.ncur, st.old, st.nold, st.curmax, st.oldmax = {}, 0, {}, 0, 0, 0
  st.swept, st.last = now, now
end
if now > st.last then st.last = now end
now = st.last

-- New generation: the old one's entries are all full again by now.
local function rotate()
  st.old, st.nold, st.oldmax = st.cur, st.ncur, st.curmax
  st.cur, st.ncur, st.curmax = {}, 0, 0
  st.swept = now
end
if now - st.swept >= sweep then rotate() end

local key = path .. " " .. (r.req_attr["request.remote-addr"] or "")
local interval = 1 / limit.rate
local tolerance = limit.burst * interval

-- tat: the time at which the client's bucket is full again.
local tat = st.cur[key]
local in_cur = tat ~= nil
if not in_cur then tat = st.old[key] end
if tat == nil or tat < now then tat = now end

-- (1e-6: what the burst allows exactly, summed up in floating point, is in)
if tat - now > tolerance + 1e-6 then
  local wait = math.ceil(tat - tolerance - now)
  if wait < 1 then wait = 1 end
  r.resp_header["Content-Type"] = "text/plain; charset=utf-8"
  r.resp_header["Cache-Control"] = "no-store"
  r.resp_header["Retry-After"] = tostring(wait)
  r.resp_body.set({ BODY })
  return 429
end

tat = tat + interval
if not in_cur then
  local in_old = st.old[key] ~= nil
  -- A new address when full (one moving from the old generation to the
  -- current one adds nothing): drop the old generation early if it is all
  -- full again, else let the request through untracked.
  if not in_old and st.ncur + st.nold >= MAX_TRACKED and st.oldmax <= now then
    rotate()
  end
  if not in_old and st.ncur + st.nold >= MAX_TRACKED then
    st.untracked = st.untracked + 1
    if now - st.said >= 60 then
      print(string.format("lighttpd-ratelimit: %d (path, address) pairs tracked, "
        .. "the most there may be: %d requests from new addresses let through "
        .. "unlimited so far", st.ncur + st.nold, st.untracked))
      st.said = now
    end
    return 0
  end
  if in_old then
    st.old[key] = nil
    st.nold = st.nold - 1
  end
  st.ncur = st.ncur + 1
end
st.cur[key] = tat
if tat > st.curmax then st.curmax = tat end
return 0
