// Load and login driver for the fault tests (tests/faults/). Loopback only:
// every URL must point at 127.0.0.1 or localhost. Every run is bounded in
// time (--seconds) and in count (--max), every request by --timeout.
//
//   node load.mjs prepare --api URL --count N --out FILE [--prefix P]
//       N login attempts up to the provider's callback: auth-url, then the
//       provider's authorize (302). FILE gets "cookie<TAB>redirect-url<TAB>icecream".
//       --personas PFILE [--persona-offset K]: log in as several users instead
//       of MockPass's default persona. PFILE has "NRIC<TAB>name" lines; login
//       i (0-based) asks authorize for MockPass's persona picker (header
//       X-Show-Login-Page) and picks persona (K + i) mod lines. The persona's
//       name is then a 4th column of FILE, checked by finish and written to
//       its --out.
//   node load.mjs finish --in FILE [--cb URL] [--userinfo] [--expect-name NAME]
//                        [--frontend URL] [--out FILE] [--json FILE]
//       Follows every prepared callback at once (on --cb's origin when given:
//       a login started on one host finishes on another). With --userinfo,
//       each logged-in session then fetches /api/userinfo and the data is
//       checked. --out gets "session-cookie<TAB>icecream<TAB>sub" per
//       logged-in session (sub empty when userinfo was not answered 200),
//       and "<TAB>name" when the login picked a persona (--personas), whose
//       name userinfo must then answer (else --expect-name's, if given).
//       Prints and writes a JSON summary: outcomes, timings (ms: all of
//       them; ms_by_outcome: every duration per outcome, sorted).
//   node load.mjs logins --api URL --count N --out FILE [...]   prepare + finish
//   node load.mjs run --base URL [--base URL2] --mix health=1,auth-url=1,...
//                     [--sessions FILE] --concurrency C --seconds S --max N
//                     [--stop-file F] [--records F] [--json F]
//       Closed-loop load. Mix entries: health, auth-url, userinfo (needs
//       --sessions; checks sub and iceCream, and the name if on file), login
//       (the whole flow through the provider as its default persona, then
//       userinfo twice, logout, userinfo 401), noise
//       (requests that must get 400/401/404/405/204/302-to-error).
//       --pace MS: each lane starts an operation at most every MS ms (probes
//       spread over a window instead of back to back). --start-file F: wait
//       for F to exist before the first request (node started ahead, the
//       probes sent the moment a test touches F; bounded by --seconds).
//       --records gets one JSON line per request: s, e (epoch ms), ep, b
//       (index of the --base it went to), st (0 = no HTTP answer), err, ok
//       (the answer expected), wrong (a 200 with somebody else's data).
//   node load.mjs sessions --base URL --sessions FILE
//       How many sessions of FILE still get their own profile from URL.
//   node load.mjs userinfos --base URL --sessions FILE [--json F]
//       /api/userinfo for every session of FILE at once (a burst of first
//       calls, say): by_status, ms per status, Retry-After values and
//       content types per status, problems (a 200 with wrong data, an error
//       answered with JSON).
//   node load.mjs stats --records F [--from MS] [--to MS] [--event MS] [--b I]
//       Summary of a records file, limited to requests that started in the
//       window (and went to base I); with --event, the failure window
//       relative to it.
import fs from 'node:fs';
import http from 'node:http';

const COOKIE = process.env.SESSION_COOKIE_NAME || 'exampleAppSession';
const MAX_SECONDS = 1800;

function die(msg) {
  process.stderr.write(`load.mjs: ${msg}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = { base: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) die(`unexpected argument ${a}`);
    const k = a.slice(2);
    if (['userinfo'].includes(k)) { o[k] = true; continue; }
    const v = argv[++i];
    if (v === undefined) die(`${a} needs a value`);
    if (k === 'base') o.base.push(v); else o[k] = v;
  }
  return o;
}

function loopback(u) {
  const url = new URL(u);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) die(`not a loopback URL: ${u}`);
  return url;
}

const num = (v, d, lo, hi) => {
  if (v === undefined) return d;
  const n = Number(v);
  if (!Number.isFinite(n) || n < lo || n > hi) die(`bad number ${v}`);
  return n;
};

// ---------------------------------------------------------------------------
// HTTP

const agents = new Map();
function agentFor(url) {
  const key = url.host;
  if (!agents.has(key)) agents.set(key, new http.Agent({ keepAlive: true, maxSockets: 256 }));
  return agents.get(key);
}

let timeoutMs = 15000;

// One request; never rejects. {st, body, headers, err, s, e}
// A GET whose kept-alive socket the server closed as the request went out
// (ECONNRESET on a reused socket, before any answer: the server's idle
// timeout racing the client) is sent once more on a new socket, as
// browsers do (not another idle one from the pool: after a stall of the
// server's event loop those are being closed too); nothing else is retried.
function request(method, urlStr, opts = {}) {
  const s = Date.now();
  return attempt(method, urlStr, opts).then((r) =>
    (r.retry ? attempt(method, urlStr, { ...opts, fresh: true }) : r)).then((r) => ({ ...r, s }));
}

function attempt(method, urlStr, { cookie, origin, headers: extra, fresh } = {}) {
  const url = loopback(urlStr);
  const s = Date.now();
  return new Promise((resolve) => {
    let done = false;
    const finish = (r) => {
      if (done) return;
      done = true;
      resolve({ s, e: Date.now(), ...r });
    };
    const headers = { 'user-agent': 'sgid-faults', ...extra };
    if (cookie) headers.cookie = cookie;
    if (origin) headers.origin = origin;
    const req = http.request(url, { method, headers, agent: fresh ? false : agentFor(url) }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => finish({ st: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (e) => finish({ st: 0, err: e.code || e.message }));
      res.on('aborted', () => finish({ st: 0, err: 'aborted' }));
    });
    req.setTimeout(timeoutMs, () => { req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })); });
    req.on('error', (e) => finish(e.code === 'ECONNRESET' && req.reusedSocket && method === 'GET'
      ? { st: 0, err: e.code, retry: true } : { st: 0, err: e.code || e.message }));
    req.end();
  });
}

function setCookie(res) {
  const list = (res.headers && res.headers['set-cookie']) || [];
  let v = null;
  for (const line of list) {
    const m = line.match(new RegExp(`^${COOKIE}=([^;]*)`));
    if (m) v = m[1];
  }
  return v;
}

function json(text) {
  try { return JSON.parse(text); } catch { return null; }
}

// ---------------------------------------------------------------------------
// Logins

// MockPass's persona picker escapes its attributes as mustache does.
const HTML_ENTITIES = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'", '&#x2F;': '/', '&#x60;': '`', '&#x3D;': '=' };
const unescapeHtml = (t) => t.replace(/&(amp|lt|gt|quot|#39|#x2F|#x60|#x3D);/g, (m) => HTML_ENTITIES[m]);

// The callback URL of persona NRIC on a persona picker page, or null.
function pickPersona(page, nric) {
  for (const m of page.matchAll(/<option value="([^"]*)" data-asserturl="([^"]*)"/g)) {
    if (unescapeHtml(m[1]).split(' ')[0] === nric) return unescapeHtml(m[2]);
  }
  return null;
}

// "NRIC<TAB>name" lines (see --personas).
function readPersonas(file) {
  const list = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => {
    const [nric, name] = l.split('\t');
    if (!nric || !name) die(`${file}: want NRIC<TAB>name lines`);
    return { nric, name };
  });
  if (!list.length) die(`${file}: no personas`);
  return list;
}

async function prepareOne(api, icecream, persona) {
  const r = await request('GET', `${api}/api/auth-url?icecream=${encodeURIComponent(icecream)}`);
  if (r.st !== 200) return { fail: `auth-url ${r.st || r.err}` };
  const j = json(r.body);
  const cookie = setCookie(r);
  if (!j || typeof j.url !== 'string' || !cookie) return { fail: 'auth-url: no url or cookie' };
  if (persona) {
    const a = await request('GET', j.url, { headers: { 'x-show-login-page': 'true' } });
    if (a.st !== 200) return { fail: `authorize (persona picker) ${a.st || a.err}` };
    const redirect = pickPersona(a.body, persona.nric);
    if (!redirect) return { fail: `persona ${persona.nric} is not offered by the picker` };
    return { cookie, redirect, icecream, name: persona.name };
  }
  const a = await request('GET', j.url);
  if (a.st !== 302 || !a.headers.location) return { fail: `authorize ${a.st || a.err}` };
  return { cookie, redirect: a.headers.location, icecream };
}

async function pool(items, conc, fn) {
  const out = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(conc, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  });
  await Promise.all(lanes);
  return out;
}

async function prepare(o, api) {
  const n = num(o.count, 1, 1, 10000);
  const prefix = o.prefix || 'flavor';
  const items = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  const personas = o.personas ? readPersonas(o.personas) : null;
  const offset = num(o['persona-offset'], 0, 0, 1e9);
  const res = await pool(items, num(o.concurrency, 4, 1, 64),
    (ic, i) => prepareOne(api, ic, personas && personas[(offset + i) % personas.length]));
  const bad = res.filter((r) => r.fail);
  if (bad.length) die(`prepare: ${bad.length}/${n} failed, first: ${bad[0].fail}`);
  return res;
}

function checkUserinfo(r, want) {
  if (r.st !== 200) return `userinfo ${r.st || r.err}`;
  const j = json(r.body);
  if (!j || typeof j.sub !== 'string' || !j.data) return 'userinfo 200 without sub/data';
  if (want.sub && j.sub !== want.sub) return `WRONG DATA: sub ${j.sub}`;
  if (j.data.iceCream !== want.icecream) return `WRONG DATA: iceCream ${j.data.iceCream} != ${want.icecream}`;
  if (want.name && j.data['myinfo.name'] !== want.name) return `WRONG DATA: name ${j.data['myinfo.name']}`;
  return null;
}

async function finishAll(o, prepared) {
  const frontend = o.frontend || 'http://localhost:25173';
  const results = await Promise.all(prepared.map(async (p) => {
    let url = p.redirect;
    if (o.cb) {
      const to = loopback(o.cb);
      const u = new URL(url);
      u.protocol = to.protocol;
      u.host = to.host;
      url = u.toString();
    }
    const r = await request('GET', url, { cookie: `${COOKIE}=${p.cookie}` });
    const out = { ms: r.e - r.s, st: r.st, err: r.err, icecream: p.icecream, name: p.name };
    const loc = r.headers && r.headers.location;
    if (r.st === 302 && loc === `${frontend}/logged-in`) out.outcome = 'logged-in';
    else if (r.st === 302 && (loc === `${frontend}/error` || (loc || '').startsWith(`${frontend}/error?`))) out.outcome = 'error';
    else out.outcome = r.st ? `status ${r.st}` : `no answer (${r.err})`;
    out.cookie = out.outcome === 'logged-in' ? setCookie(r) : null;
    if (out.outcome === 'logged-in' && o.userinfo) {
      const base = o.cb || o.api;
      const u = await request('GET', `${base}/api/userinfo`, { cookie: `${COOKIE}=${out.cookie}` });
      const j = json(u.body);
      out.sub = j && j.sub;
      out.userinfo = u.st || `no answer (${u.err})`;
      out.userinfo_ms = u.e - u.s;
      out.userinfo_problem = checkUserinfo(u, { icecream: p.icecream, name: p.name || o['expect-name'] });
      if (u.st !== 200 && json(u.body) !== null) out.userinfo_problem = `userinfo ${u.st} with a JSON body`;
    }
    return out;
  }));
  const summary = {
    count: results.length, outcomes: {}, userinfo: {}, problems: [], ms: stats(results.map((r) => r.ms)),
    ms_by_outcome: {},
  };
  for (const r of results) {
    summary.outcomes[r.outcome] = (summary.outcomes[r.outcome] || 0) + 1;
    (summary.ms_by_outcome[r.outcome] ||= []).push(r.ms);
    if (r.userinfo !== undefined) summary.userinfo[r.userinfo] = (summary.userinfo[r.userinfo] || 0) + 1;
    // A 200 that fails the checks, or an error answer the SPA would take
    // for a logged-in user (JSON): the two things that must never happen.
    if (r.userinfo_problem && (r.userinfo === 200 || /JSON/.test(r.userinfo_problem))) summary.problems.push(r.userinfo_problem);
  }
  summary.problems = [...new Set(summary.problems)];
  for (const v of Object.values(summary.ms_by_outcome)) v.sort((a, b) => a - b);
  const ui = results.filter((r) => r.userinfo !== undefined).map((r) => r.userinfo_ms);
  if (ui.length) summary.userinfo_ms = stats(ui);
  if (o.out) {
    // Every logged-in session; the sub only when userinfo answered 200.
    fs.writeFileSync(o.out, results.filter((r) => r.cookie)
      .map((r) => `${r.cookie}\t${r.icecream}\t${(r.userinfo === 200 && r.sub) || ''}${r.name ? `\t${r.name}` : ''}\n`)
      .join(''));
  }
  return summary;
}

function readPrepared(file) {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => {
    const [cookie, redirect, icecream, name] = l.split('\t');
    return { cookie, redirect, icecream, name };
  });
}

function readSessions(file) {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => {
    const [cookie, icecream, sub, name] = l.split('\t');
    return { cookie, icecream, sub, name };
  });
}

// ---------------------------------------------------------------------------
// Statistics

function pct(sorted, p) {
  if (!sorted.length) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

function stats(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return { n: v.length, p50: pct(v, 50), p90: pct(v, 90), p99: pct(v, 99), max: v.length ? v[v.length - 1] : null };
}

// Latencies as a histogram of whole milliseconds: constant memory however
// long the run, exact percentiles at 1 ms resolution.
class Lat {
  constructor() { this.h = new Map(); this.n = 0; }
  add(ms) { this.h.set(ms, (this.h.get(ms) || 0) + 1); this.n++; }
  stats() {
    const keys = [...this.h.keys()].sort((x, y) => x - y);
    const at = (p) => {
      if (!this.n) return null;
      const want = Math.max(1, Math.ceil((p / 100) * this.n));
      let c = 0;
      for (const k of keys) { c += this.h.get(k); if (c >= want) return k; }
      return keys[keys.length - 1];
    };
    return { n: this.n, p50: at(50), p90: at(90), p99: at(99), max: this.n ? keys[keys.length - 1] : null };
  }
}

// Running summary of request records (see --records).
class Agg {
  constructor() {
    this.total = 0; this.by_status = {}; this.eps = new Map(); this.unexpected = 0; this.wrong = 0;
    this.samples = []; this.lat = new Lat(); this.failLat = new Lat();
    this.failFirst = Infinity; this.failLast = -Infinity; this.first = Infinity; this.last = -Infinity;
  }

  add(r) {
    const key = r.st ? String(r.st) : `0:${r.err}`;
    const ms = r.e - r.s;
    this.total++;
    this.by_status[key] = (this.by_status[key] || 0) + 1;
    if (!this.eps.has(r.ep)) this.eps.set(r.ep, { total: 0, by_status: {}, lat: new Lat() });
    const ep = this.eps.get(r.ep);
    ep.total++;
    ep.by_status[key] = (ep.by_status[key] || 0) + 1;
    ep.lat.add(ms);
    this.lat.add(ms);
    if (r.s < this.first) this.first = r.s;
    if (r.e > this.last) this.last = r.e;
    if (r.wrong) this.wrong++;
    if (!r.ok) {
      this.unexpected++;
      this.failLat.add(ms);
      if (r.s < this.failFirst) this.failFirst = r.s;
      if (r.e > this.failLast) this.failLast = r.e;
      if (this.samples.length < 8) this.samples.push(`${r.ep} ${key}${r.why ? ` ${r.why}` : ''}`);
    }
  }

  result(event) {
    const s = {
      total: this.total, by_status: this.by_status, by_ep: {}, unexpected: this.unexpected, wrong: this.wrong,
      unexpected_samples: this.samples, lat: this.lat.stats(),
    };
    for (const [name, ep] of this.eps) s.by_ep[name] = { total: ep.total, by_status: ep.by_status, lat: ep.lat.stats() };
    if (this.unexpected) {
      s.fail_first_start = this.failFirst;
      s.fail_last_end = this.failLast;
      s.fail_lat = this.failLat.stats();
      if (event !== undefined) {
        s.event = event;
        s.fail_window_ms = this.failLast - this.failFirst;
        s.fail_last_after_event_ms = this.failLast - event;
      }
    }
    if (this.total) {
      s.first_start = this.first;
      s.last_end = this.last;
      s.rps = Math.round((this.total / Math.max(1, this.last - this.first)) * 1000);
    }
    return s;
  }
}

// ---------------------------------------------------------------------------
// Closed-loop load

async function runLoad(o) {
  const bases = o.base.map((b) => { loopback(b); return b.replace(/\/$/, ''); });
  if (!bases.length) die('run needs --base');
  const seconds = num(o.seconds, 10, 0.1, MAX_SECONDS);
  const max = num(o.max, 100000, 1, 10_000_000);
  const conc = num(o.concurrency, 4, 1, 256);
  const pace = num(o.pace, 0, 0, 60000);
  const frontend = o.frontend || 'http://localhost:25173';
  const sessions = o.sessions ? readSessions(o.sessions) : [];
  const mix = [];
  for (const part of (o.mix || 'health=1').split(',')) {
    const [k, w] = part.split('=');
    if (!['health', 'auth-url', 'userinfo', 'login', 'noise'].includes(k)) die(`unknown mix entry ${k}`);
    if (k === 'userinfo' && !sessions.length) die('userinfo in the mix needs --sessions');
    for (let i = 0; i < num(w, 1, 0, 100); i++) mix.push(k);
  }
  if (!mix.length) die('empty mix');
  const recFd = o.records ? fs.openSync(o.records, 'w') : null;
  const agg = new Agg();
  const deadline = Date.now() + seconds * 1000;
  let started = 0;
  let stop = false;
  const record = (r) => {
    agg.add(r);
    if (recFd !== null) fs.writeSync(recFd, `${JSON.stringify(r)}\n`);
  };
  const more = () => {
    if (stop || Date.now() >= deadline || started >= max) return false;
    if (o['stop-file'] && fs.existsSync(o['stop-file'])) { stop = true; return false; }
    started++;
    return true;
  };
  const rec = (ep, r, ok, extra = {}) => record({ s: r.s, e: r.e, ep, st: r.st, err: r.err, ok, ...extra });

  let rr = 0;
  const pick = (arr) => arr[rr++ % arr.length];

  async function oneOp(lane, n) {
    const bi = (lane + n) % bases.length;
    const base = bases[bi];
    // Records name the base they went to (b: its index in --base order).
    const R = (ep, r, ok, extra = {}) => rec(ep, r, ok, { b: bi, ...extra });
    const kind = mix[Math.floor(Math.random() * mix.length)];
    if (kind === 'health') {
      const r = await request('GET', `${base}/api/health`);
      R('health', r, r.st === 200);
    } else if (kind === 'auth-url') {
      const r = await request('GET', `${base}/api/auth-url?icecream=load-${lane}`);
      const j = r.st === 200 ? json(r.body) : null;
      R('auth-url', r, r.st === 200 && !!j && typeof j.url === 'string' && !!setCookie(r));
    } else if (kind === 'userinfo') {
      const sess = pick(sessions);
      const r = await request('GET', `${base}/api/userinfo`, { cookie: `${COOKIE}=${sess.cookie}` });
      const why = checkUserinfo(r, sess);
      const wrong = r.st === 200 && !!why;
      R('userinfo', r, !why, wrong ? { wrong: true, why } : (why && r.st === 200 ? { why } : {}));
    } else if (kind === 'noise') {
      const cases = [
        ['GET', '/api/auth-url?icecream=%01bad', (r) => r.st === 400],
        ['GET', '/api/nope', (r) => r.st === 404],
        ['POST', '/api/userinfo', (r) => r.st === 405],
        ['GET', '/api/userinfo', (r) => r.st === 401 && json(r.body) === null],
        ['GET', '/api/redirect?code=x&state=y', (r) => r.st === 302 && (r.headers.location || '').startsWith(`${frontend}/error`)],
        ['OPTIONS', '/api/auth-url', (r) => r.st === 204 || r.st === 200],
      ];
      const [m, p, okf] = cases[n % cases.length];
      const r = await request(m, `${base}${p}`, m === 'OPTIONS' ? { origin: frontend } : {});
      R('noise', r, okf(r));
    } else if (kind === 'login') {
      await loginOp(base, lane, n, R);
    }
  }

  async function loginOp(base, lane, n, R) {
    const icecream = `soak-${lane}-${n % 1000}`;
    let r = await request('GET', `${base}/api/auth-url?icecream=${icecream}`);
    let j = r.st === 200 ? json(r.body) : null;
    let cookie = setCookie(r);
    let ok = r.st === 200 && !!j && typeof j.url === 'string' && !!cookie;
    R('login.auth-url', r, ok);
    if (!ok) return;
    r = await request('GET', j.url);
    ok = r.st === 302 && !!r.headers.location;
    R('login.authorize', r, ok);
    if (!ok) return;
    const cb = new URL(r.headers.location);
    const b = new URL(base);
    cb.protocol = b.protocol;
    cb.host = b.host;
    r = await request('GET', cb.toString(), { cookie: `${COOKIE}=${cookie}` });
    cookie = setCookie(r);
    ok = r.st === 302 && r.headers.location === `${frontend}/logged-in` && !!cookie;
    R('login.redirect', r, ok);
    if (!ok) return;
    let sub = null;
    for (const step of ['login.userinfo1', 'login.userinfo2']) {
      r = await request('GET', `${base}/api/userinfo`, { cookie: `${COOKIE}=${cookie}` });
      j = json(r.body);
      const why = checkUserinfo(r, { icecream, sub });
      if (j && !sub) sub = j.sub;
      R(step, r, !why, r.st === 200 && why ? { wrong: true, why } : {});
      if (why) return;
    }
    r = await request('GET', `${base}/api/logout`, { cookie: `${COOKIE}=${cookie}` });
    R('login.logout', r, r.st === 200);
    r = await request('GET', `${base}/api/userinfo`, { cookie: `${COOKIE}=${cookie}` });
    R('login.after-logout', r, r.st === 401, r.st === 200 ? { wrong: true, why: 'session alive after logout' } : {});
  }

  if (o['start-file']) {
    while (!fs.existsSync(o['start-file']) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  }
  const lanes = Array.from({ length: conc }, async (_, lane) => {
    let n = 0;
    while (more()) {
      const t0 = Date.now();
      await oneOp(lane, n++);
      const left = pace - (Date.now() - t0);
      if (left > 0 && Date.now() + left < deadline) await new Promise((r) => setTimeout(r, left));
    }
  });
  await Promise.all(lanes);
  if (recFd !== null) fs.closeSync(recFd);
  return agg.result();
}

// ---------------------------------------------------------------------------

async function main() {
  const [cmd, ...rest] = process.argv.slice(2);
  const o = parseArgs(rest);
  timeoutMs = num(o.timeout, 15000, 100, 120000);
  const hard = setTimeout(() => die('hard deadline reached'), (MAX_SECONDS + 120) * 1000);
  hard.unref();
  let out;
  if (cmd === 'prepare' || cmd === 'logins') {
    if (!o.api) die(`${cmd} needs --api`);
    loopback(o.api);
    const p = await prepare(o, o.api);
    if (cmd === 'prepare') {
      if (!o.out) die('prepare needs --out');
      fs.writeFileSync(o.out, p.map((x) => `${x.cookie}\t${x.redirect}\t${x.icecream}${x.name ? `\t${x.name}` : ''}\n`).join(''));
      out = { prepared: p.length };
    } else {
      out = await finishAll(o, p);
    }
  } else if (cmd === 'finish') {
    if (!o.in) die('finish needs --in');
    out = await finishAll(o, readPrepared(o.in));
  } else if (cmd === 'run') {
    out = await runLoad(o);
  } else if (cmd === 'sessions') {
    // Every session of --sessions still answers userinfo 200 with its own data.
    if (!o.sessions || !o.base.length) die('sessions needs --base and --sessions');
    const base = o.base[0].replace(/\/$/, '');
    loopback(base);
    const list = readSessions(o.sessions);
    const res = await pool(list, num(o.concurrency, 8, 1, 64), async (s) => {
      const r = await request('GET', `${base}/api/userinfo`, { cookie: `${COOKIE}=${s.cookie}` });
      // No sub on file: any sub will do, the iceCream must still match.
      return checkUserinfo(r, s.sub ? s : { icecream: s.icecream, name: s.name });
    });
    const bad = res.filter(Boolean);
    out = { good: list.length - bad.length, total: list.length, problems: [...new Set(bad)].slice(0, 5) };
  } else if (cmd === 'userinfos') {
    if (!o.sessions || !o.base.length) die('userinfos needs --base and --sessions');
    const base = o.base[0].replace(/\/$/, '');
    loopback(base);
    const list = readSessions(o.sessions);
    if (list.length > 10000) die('userinfos: at most 10000 sessions');
    const res = await Promise.all(list.map(async (s) => {
      const r = await request('GET', `${base}/api/userinfo`, { cookie: `${COOKIE}=${s.cookie}` });
      return { r, why: checkUserinfo(r, s.sub ? s : { icecream: s.icecream, name: s.name }) };
    }));
    out = { count: list.length, by_status: {}, ms: {}, retry_after: {}, content_type: {}, problems: [] };
    const ms = {};
    for (const { r, why } of res) {
      const k = r.st ? String(r.st) : `0:${r.err}`;
      out.by_status[k] = (out.by_status[k] || 0) + 1;
      (ms[k] ||= []).push(r.e - r.s);
      const h = r.headers || {};
      const ra = h['retry-after'] === undefined ? 'none' : String(h['retry-after']);
      out.retry_after[k] ||= {};
      out.retry_after[k][ra] = (out.retry_after[k][ra] || 0) + 1;
      const ct = String(h['content-type'] || 'none').split(';')[0];
      out.content_type[k] ||= {};
      out.content_type[k][ct] = (out.content_type[k][ct] || 0) + 1;
      if (r.st === 200 && why) out.problems.push(why);
      if (r.st && r.st !== 200 && json(r.body) !== null) out.problems.push(`userinfo ${r.st} with a JSON body`);
    }
    for (const [k, v] of Object.entries(ms)) out.ms[k] = stats(v);
    out.problems = [...new Set(out.problems)].slice(0, 5);
  } else if (cmd === 'stats') {
    if (!o.records) die('stats needs --records');
    const from = num(o.from, 0, 0, Number.MAX_SAFE_INTEGER);
    const to = num(o.to, Number.MAX_SAFE_INTEGER, 0, Number.MAX_SAFE_INTEGER);
    const agg = new Agg();
    for (const l of fs.readFileSync(o.records, 'utf8').split('\n')) {
      if (!l) continue;
      const r = JSON.parse(l);
      if (r.s >= from && r.s <= to && (o.b === undefined || r.b === Number(o.b)) &&
          (o.ep === undefined || r.ep === o.ep) && (o['not-ep'] === undefined || r.ep !== o['not-ep']))
        agg.add(r);
    }
    out = agg.result(o.event === undefined ? undefined : Number(o.event));
  } else {
    die('usage: load.mjs prepare|finish|logins|run|sessions|userinfos|stats ...');
  }
  const text = JSON.stringify(out);
  if (o.json) fs.writeFileSync(o.json, `${text}\n`);
  process.stdout.write(`${text}\n`);
  for (const a of agents.values()) a.destroy();
}

main().catch((e) => die(e.stack || String(e)));
