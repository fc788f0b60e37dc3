'use strict';
// Runs tests/hostile/cases.js against the real stack (nginx -> sgid-fcgi ->
// Redis, with tests/hostile-idp as sgID). Started by tests/hostile/run.sh,
// which passes the settings below in the environment. No dependencies: Node's
// fetch only.
//
// Every case runs twice (HOSTILE_MODES, default "spa gateway"): as the SPA
// logs in (/api/auth-url, the callback to {frontend}/logged-in, userinfo
// later) and as a gateway's login (/api/login?rd=/protected/x: the callback
// fetches userinfo itself and sends the browser to the rd). The gateway pass
// names its cases "gateway: <name>"; where userinfo fails, its login fails at
// the callback ('redirect→/error', not 'userinfo→502': see cases.js).
//
// Prints one line per case and a summary; run.sh prints the closing line.
// HOSTILE_SECRETS_FILE receives every secret the run saw (one per line) for
// the log check in run.sh; HOSTILE_RESULTS_FILE receives the results as JSON.

const fs = require('node:fs');
const cases = require('./cases.js');

const env = process.env;
const APP = env.HOSTILE_APP_URL || 'http://localhost:5001';
const IDP = env.HOSTILE_IDP_URL || 'http://127.0.0.1:5157';
const FRONTEND = env.HOSTILE_FRONTEND || 'http://localhost:5173';
const CLIENT_ID = env.HOSTILE_CLIENT_ID || '';
const ISSUER = env.HOSTILE_ISSUER || 'http://localhost:5157/v2';
const CFG = {
  workers: Number(env.HOSTILE_WORKERS || 2),
  refetchMs: Number(env.HOSTILE_JWKS_REFETCH_S || 2) * 1000,
  loginTtlMs: Number(env.HOSTILE_LOGIN_TTL_S || 4) * 1000,
};
const APP_PIDS = (env.HOSTILE_APP_PIDS || '').split(/\s+/).filter(Boolean);
const ONLY = env.HOSTILE_ONLY ? new RegExp(env.HOSTILE_ONLY) : null;
const APP_LOG = env.HOSTILE_APP_LOG || '';
const REQUEST_TIMEOUT_MS = 15_000;
const PERSONA = 'HOSTILE TEST PERSONA';
const MODES = (env.HOSTILE_MODES || 'spa gateway').split(/[\s,]+/).filter(Boolean);
// The gateway's return URL, and where the callback resolves it (the origin of
// SGID_REDIRECT_URI, the app's own here).
const RD = '/protected/x';
const RD_URL = `${APP}${RD}`;

// Which login the flows below play: the SPA's, or a gateway's (set per pass).
let gateway = false;
const PREFIX = { spa: '', gateway: 'gateway: ' };
const passName = (c) => `${PREFIX[gateway ? 'gateway' : 'spa']}${c.name}`;

const seenCookies = new Set();

// ---------------------------------------------------------------------------
// HTTP with a tiny cookie jar

class Jar {
  constructor(from) { this.c = new Map(from ? from.c : []); }
  header() { return [...this.c].map(([k, v]) => `${k}=${v}`).join('; '); }
  take(res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq < 1) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const gone = value === '' || attrs.some((a) => {
        const [k, v] = a.split('=').map((s) => (s || '').trim().toLowerCase());
        return (k === 'max-age' && Number(v) <= 0) || (k === 'expires' && Date.parse(v) < Date.now());
      });
      if (value.length >= 8) seenCookies.add(value);
      if (gone) this.c.delete(name);
      else this.c.set(name, value);
    }
  }
}

async function get(url, { jar, cookie } = {}) {
  const headers = {};
  const ck = cookie !== undefined ? cookie : jar && jar.header();
  if (ck) headers.cookie = ck;
  const res = await fetch(url, { redirect: 'manual', headers, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const text = await res.text();
  if (jar) jar.take(res);
  return { status: res.status, text, location: res.headers.get('location'), type: res.headers.get('content-type') || '', headers: res.headers };
}

async function control(path, body) {
  const res = await fetch(IDP + path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const j = await res.json();
  if (res.status !== 200) throw new Error(`control ${path}: ${j.error || res.status}`);
  return j;
}

// '$CLIENT_ID' etc. inside scenario strings.
async function expand(v) {
  if (typeof v === 'string') {
    if (!v.includes('$')) return v;
    const kid = v.includes('$CURRENT_KID') ? (await control('/__control/log')).current_kid : '';
    return v.replaceAll('$CLIENT_ID', CLIENT_ID).replaceAll('$ISSUER', ISSUER)
      .replaceAll('$ORIGIN', new URL(ISSUER).origin).replaceAll('$CURRENT_KID', kid);
  }
  if (Array.isArray(v)) return Promise.all(v.map(expand));
  if (v && typeof v === 'object') {
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = await expand(x);
    return out;
  }
  return v;
}

const isJson = (text) => { try { return JSON.parse(text) !== null; } catch { return false; } };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------
// The login, step by step (the SPA and the browser's part)

async function begin(jar, icecream = 'Vanilla') {
  if (gateway) {
    const r = await get(`${APP}/api/login?rd=${encodeURIComponent(RD)}`, { jar });
    if (r.status !== 302 || !r.location) return { outcome: `login→${r.status}` };
    if (!r.location.startsWith(`${ISSUER}/`)) return { outcome: `login→302 not to sgID: ${r.location.slice(0, 60)}` };
    return { url: r.location };
  }
  const r = await get(`${APP}/api/auth-url?icecream=${icecream}`, { jar });
  if (r.status !== 200) return { outcome: `auth-url→${r.status}` };
  let url;
  try { url = JSON.parse(r.text).url; } catch { /* below */ }
  if (typeof url !== 'string') return { outcome: 'auth-url→no url' };
  return { url };
}

async function authorize(url) {
  const r = await get(url);
  if (r.status !== 302 || !r.location) return { outcome: `authorize→${r.status}` };
  return { location: r.location };
}

async function callback(jar, url, opts = {}) {
  // noCookie / cookie replace what the jar would send; Set-Cookie still lands in the jar.
  const r = await get(url, { jar, cookie: opts.noCookie ? '' : opts.cookie });
  if ((r.status === 302 || r.status === 303) && r.location) {
    if (r.location === (gateway ? RD_URL : `${FRONTEND}/logged-in`)) return 'logged-in';
    if (r.location === `${FRONTEND}/error` || r.location.startsWith(`${FRONTEND}/error?`)) return 'redirect→/error';
    // never the rd (or a look-alike of it) but for a login
    if (r.location.includes(RD)) return `REDIRECTED TO THE rd: ${r.status} ${r.location.slice(0, 60)}`;
    return `redirect→${r.status} ${r.location.slice(0, 60)}`;
  }
  return `redirect→${r.status}`;
}

const warnings = [];

// A profile value as /api/auth's X-Sgid-* headers carry it: every byte
// outside 0x20-0x7E, and '%', as %XX.
function headerValue(s) {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

// A gateway's session as nginx's auth_request sees it: /api/auth with the
// jar. null when it agrees with /api/userinfo's sub and the expected data.
async function authCheck(jar, sub, want) {
  const a = await get(`${APP}/api/auth`, { jar });
  if (a.status !== 200) return `auth→${a.status}`;
  if (a.headers.get('x-sgid-sub') !== sub) return 'auth→200 with another X-Sgid-Sub';
  const name = a.headers.get('x-sgid-myinfo-name');
  const wantName = want['myinfo.name'] === undefined ? null : headerValue(want['myinfo.name']);
  if (name !== wantName) return `auth→200 X-Sgid-Myinfo-Name=${JSON.stringify(name)}`;
  return null;
}

// After the callback: what /api/userinfo (and for a gateway's login
// /api/auth) says decides the outcome.
async function finish(jar, cb, wantData) {
  // a gateway's login fetched the profile at its callback: no second call
  const before = gateway && cb === 'logged-in' ? (await control('/__control/log')).counters.userinfo : 0;
  const u = await get(`${APP}/api/userinfo`, { jar });
  if (cb === 'logged-in') {
    if (u.status === 200) {
      let j;
      try { j = JSON.parse(u.text); } catch { return 'userinfo→200 not JSON'; }
      // Exactly the expected fields: nothing the app could not decrypt sneaks in.
      const want = { ...(wantData || { 'myinfo.name': PERSONA }), iceCream: gateway ? 'None' : 'Vanilla' };
      if (typeof j.sub !== 'string' || !j.sub.startsWith('u=hostile-')) return `userinfo→200 bad sub ${JSON.stringify(j.sub)}`;
      if (!j.data || typeof j.data !== 'object') return 'userinfo→200 without data';
      for (const k of new Set([...Object.keys(want), ...Object.keys(j.data)])) {
        if (j.data[k] !== want[k]) return `userinfo→200 data.${k}=${JSON.stringify(j.data[k])}`;
      }
      if (gateway) {
        const calls = (await control('/__control/log')).counters.userinfo - before;
        if (calls !== 0) return `userinfo→200 after ${calls} more sgID userinfo call(s)`;
        const bad = await authCheck(jar, j.sub, want);
        if (bad) return bad;
      }
      return 'ok';
    }
    if (u.status === 502 && isJson(u.text)) warnings.push('502 body is JSON (the SPA treats any JSON as logged in)');
    return `userinfo→${u.status}`;
  }
  // Not logged in: /api/userinfo must say so, with a body the SPA cannot parse.
  if (u.status === 200) return `LOGGED IN after ${cb}`;
  if (u.status !== 401 && u.status !== 502) return `${cb}, then userinfo→${u.status}`;
  if (isJson(u.text)) return `${cb}, then userinfo ${u.status} with a JSON body`;
  if (gateway) {
    // and nginx's auth_request lets nobody through with this jar
    const a = await get(`${APP}/api/auth`, { jar });
    if (a.status !== 401) return `${cb}, then auth→${a.status}`;
  }
  return cb;
}

async function login(o = {}) {
  const jar = o.jar || new Jar();
  const b = await begin(jar);
  if (b.outcome) return { outcome: b.outcome, jar };
  const a = await authorize(b.url);
  if (a.outcome) return { outcome: a.outcome, jar };
  const url = o.mutate ? o.mutate(a.location) : a.location;
  const preJar = new Jar(jar);
  const cb = await callback(jar, url, o);
  return { outcome: await finish(jar, cb, o.data), jar, preJar, redirectUrl: url };
}

// ---------------------------------------------------------------------------
// One case, then the checks every case gets

function workersAlive() {
  const dead = [];
  for (const pid of APP_PIDS) {
    let st = '';
    try { st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] || ''; } catch { /* gone */ }
    if (!st || st[0] === 'Z' || st[0] === 'X') dead.push(pid);
  }
  return dead;
}

const ctx = {
  cfg: CFG,
  sleep,
  newJar: () => new Jar(),
  begin, authorize, callback, finish, login,
  scenario: async (s) => control('/__control/scenario', await expand(s)),
  rotate: () => control('/__control/rotate', {}),
  log: () => control('/__control/log'),
};

const secrets = new Set();
function collectSecrets(log) {
  for (const list of Object.values(log.issued)) for (const s of list) if (s && s.length >= 8) secrets.add(s);
}

// The app's log lines written since the last call (warnings and errors only).
let appLogOffset = 0;
function appLogSince() {
  if (!APP_LOG) return [];
  let buf;
  try { buf = fs.readFileSync(APP_LOG); } catch { return []; }
  const text = buf.subarray(Math.min(appLogOffset, buf.length)).toString('utf8');
  appLogOffset = buf.length;
  return text.split('\n').filter((l) => /level=(warn|error|crit|fatal)/.test(l) || /Sanitizer|runtime error/.test(l));
}

// What a case expects of a gateway's login: its expectGateway, else its
// expect with a failed userinfo moved to the callback (which fetches it).
function gatewayExpect(c) {
  return c.expectGateway || [...new Set(c.expect.map((o) => (o === 'userinfo→502' ? 'redirect→/error' : o)))];
}

async function runCase(c) {
  const problems = [];
  const expect = gateway ? gatewayExpect(c) : c.expect;
  const name = passName(c);
  let res;
  appLogSince();
  await control('/__control/reset', {});
  if (c.fresh) {
    await ctx.rotate();
    await sleep(CFG.refetchMs + 300);
  }
  await ctx.scenario(c.scenario || {});
  try {
    res = c.run ? await c.run(ctx)
      : await login({ mutate: c.mutate, noCookie: c.noCookie, cookie: c.cookie, data: c.data });
  } catch (e) {
    res = { outcome: `exception: ${e.cause ? e.cause.code || e.cause.message : e.message}` };
  }
  if (!expect.includes(res.outcome)) problems.push(`got ${res.outcome}`);
  if (res.fail) problems.push(res.fail);
  const appLog = appLogSince();
  const log = await ctx.log();
  collectSecrets(log);
  const allowed = new Set(c.allow || []);
  const v = log.violations.filter((x) => !allowed.has(x.code));
  if (v.length) problems.push(`provider violations: ${v.map((x) => `${x.endpoint}.${x.code}`).join(', ')}`);

  // The app still serves the next plain login, and no worker died.
  await control('/__control/reset', {});
  if (c.fresh || c.rotates) await sleep(CFG.refetchMs + 300);
  let next;
  try { next = (await login()).outcome; } catch (e) { next = `exception: ${e.message}`; }
  if (next !== 'ok') problems.push(`next login: ${next}`);
  const log2 = await ctx.log();
  collectSecrets(log2);
  if (log2.violations.length) problems.push(`next login violations: ${log2.violations.map((x) => `${x.endpoint}.${x.code}`).join(', ')}`);
  const dead = workersAlive();
  if (dead.length) problems.push(`worker(s) gone: ${dead.join(' ')}`);
  const appLogNext = appLogSince();
  if (next !== 'ok') appLog.push('-- next login:', ...appLogNext);
  return { name, expect, outcome: res.outcome, note: res.note || '', problems, appLog };
}

async function main() {
  const names = new Set();
  for (const c of cases) {
    if (names.has(c.name)) throw new Error(`duplicate case name: ${c.name}`);
    names.add(c.name);
  }
  const runs = [];
  for (const mode of MODES) {
    if (!(mode in PREFIX)) throw new Error(`HOSTILE_MODES: unknown mode ${mode}`);
    for (const c of cases) if (!ONLY || ONLY.test(c.name) || ONLY.test(PREFIX[mode] + c.name)) runs.push([mode, c]);
  }
  const results = [];
  let passed = 0;
  let failed = 0;
  for (const [mode, c] of runs) {
    const w0 = warnings.length;
    gateway = mode === 'gateway';
    let r;
    try { r = await runCase(c); } catch (e) {
      r = { name: passName(c), expect: c.expect, outcome: 'harness error', note: '', problems: [e.message] };
    }
    const ok = r.problems.length === 0;
    if (ok) passed++; else failed++;
    r.warnings = [...new Set(warnings.slice(w0))];
    results.push(r);
    const extra = [r.note, ...r.warnings.map((w) => `warning: ${w}`)].filter(Boolean).join('; ');
    console.log(`${ok ? 'PASS' : 'FAIL'}  ${r.name}  [${r.outcome}]${extra ? `  (${extra})` : ''}`);
    for (const p of r.problems) console.log(`        ${p}`);
    if (!ok) for (const l of (r.appLog || []).slice(0, 6)) console.log(`        app: ${l.slice(0, 240)}`);
  }
  for (const s of seenCookies) secrets.add(s);
  if (env.HOSTILE_SECRETS_FILE) fs.writeFileSync(env.HOSTILE_SECRETS_FILE, [...secrets].join('\n') + '\n', { mode: 0o600 });
  if (env.HOSTILE_RESULTS_FILE) fs.writeFileSync(env.HOSTILE_RESULTS_FILE, JSON.stringify(results, null, 1));
  console.log(`runner finished: ${passed} of ${passed + failed} cases passed`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((e) => {
  console.error(`runner: ${e.stack || e.message}`);
  process.exitCode = 1;
});
