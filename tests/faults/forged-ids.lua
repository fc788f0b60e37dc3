-- wrk script for forged-ids.sh: every request carries a session cookie this
-- deployment never issued, of every shape an id has or had: random 80
-- characters (the current form), the one real expired id with its MAC
-- changed (FORGED_REAL), random 64 and 43 (the earlier forms), to
-- /api/userinfo and the gateway check /api/auth in turn. Each thread stops
-- after its share of the requests and says so with a file in FORGED_DONE_DIR
-- (wrk itself waits out its -d: the test then stops it with SIGINT);
-- done() prints the totals and how many answers were not 401.
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
local threads = {}
local cookie_name = os.getenv("COOKIE") or "exampleAppSession"
local real = os.getenv("FORGED_REAL") or ""
local total = tonumber(os.getenv("FORGED_CALLS") or "100000")
local n_threads = tonumber(os.getenv("FORGED_THREADS") or "2")

local done_dir = os.getenv("FORGED_DONE_DIR") or "."

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

local function random_id(len)
  local t = {}
  for i = 1, len do
    local k = math.random(1, 64)
    t[i] = alphabet:sub(k, k)
  end
  return table.concat(t)
end

local sent, share = 0, 0
-- globals: done() reads them from each thread with thread:get
answered, not401 = 0, 0
local paths = { "/api/userinfo", "/api/auth" }

function init(args)
  share = math.ceil(total / n_threads)
  math.randomseed(os.time() + math.floor(os.clock() * 1e6) + #threads)
end

function request()
  sent = sent + 1
  local kind = sent % 8
  local id
  if kind == 0 and #real > 0 then id = real
  elseif kind == 1 then id = random_id(64)
  elseif kind == 2 then id = random_id(43)
  else id = random_id(80) end
  return wrk.format("GET", paths[sent % 2 + 1], { ["Cookie"] = cookie_name .. "=" .. id })
end

function response(status, headers, body)
  answered = answered + 1
  if status ~= 401 then not401 = not401 + 1 end
  if answered == share then
    local f = io.open(done_dir .. "/thread-" .. id, "w")
    if f then f:close() end
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local a, b = 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("answered")
    b = b + t:get("not401")
  end
  local e = summary.errors
  io.write(string.format("answered=%d not401=%d connect=%d read=%d write=%d timeout=%d ms=%d p99_ms=%.1f\n",
    a, b, e.connect, e.read, e.write, e.timeout, math.floor(summary.duration / 1000),
    latency:percentile(99) / 1000))
end
