// fake-sgid: a fast sgID v2 stand-in for `make bench` (loopback only).
//
// It speaks the parts of sgID v2 that a relying party uses -- authorize,
// token, jwks, userinfo -- with real cryptography, so the code under test
// does all of its work: every ID token is RS256-signed per request (it
// carries the nonce of that login) and every userinfo response has a fresh
// block key RSA-OAEP-encrypted to the client's public key (profile of
// node-jose / MockPass: key RSA-OAEP + A128CBC-HS256, data dir + A256GCM).
// What it skips is work a benchmark of the client does not need:
//  - authorization codes and access tokens are stateless (HMAC-protected),
//    so codes are not single-use and nothing grows with the number of logins;
//  - logins take turns over SUBS users (one sub each, as real traffic has
//    many users: sgid-fcgi keeps at most SESSION_MAX_PER_USER sessions per
//    user, so one sub for every login would end the bench's own sessions);
//    each user's userinfo responses are encrypted once, on first use:
//    USERINFO_VARIANTS responses, each with its own block key, served in
//    turn. The client still decrypts every one of them in full (RSA-OAEP for
//    the key, AES for the data); only sgID's own encryption cost is taken
//    out of the machine's budget.
// ID tokens are signed per request: each carries its login's nonce.
//
// Node's built-in crypto only (OpenSSL underneath), no dependencies.
// PROCS processes share the port (node:cluster); the primary aggregates
// counters from the workers and serves them on STATS_PORT:
//   GET /stats  -> {"connections":{"total":N,"by_client":{...}},
//                   "requests":{"authorize":N,...},"requests_by_client":{...}}
// Clients are told apart by User-Agent on the first request of each
// connection: "sgid-fcgi" (ours), "openid-client" (the official SDK),
// anything else ("other": nginx proxying the browser's authorize step).
//
// sgID far away: POST /delay?ms=N on STATS_PORT (default 0) makes every
// token and userinfo answer wait N ms on a timer (no CPU spent) before it is
// computed and sent, in every process; it also starts a new in-flight record.
// While the delay is set, each process notes when each token/userinfo call
// arrived and when its answer finished (or the client went away), and
//   GET /inflight?at=T1,T2,...  (epoch ms) -> {"delay_ms":N,"calls":N,
//        "max":N,"max_at":T,"at":[n1,n2,...]}
// merges the processes' records: the most calls open at the same moment over
// all processes (the high-water mark since the last /delay) and the calls
// open at each given moment.
//
// Env: PORT (required), STATS_PORT (required), CLIENT_ID, CLIENT_SECRET,
// CLIENT_PUBLIC_KEY (SPKI PEM file), ISSUER (default
// http://localhost:PORT/v2), PROCS (default 1), PERSONA_NAME.
'use strict';

const cluster = require('node:cluster');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');

const env = (k, d) => (process.env[k] === undefined || process.env[k] === '' ? d : process.env[k]);
const PORT = Number(env('PORT', ''));
const STATS_PORT = Number(env('STATS_PORT', ''));
const HOST = '127.0.0.1';
const PROCS = Math.max(1, Math.min(16, Number(env('PROCS', '1')) | 0));
const ISSUER = env('ISSUER', `http://localhost:${PORT}/v2`);
const CLIENT_ID = env('CLIENT_ID', '');
const CLIENT_SECRET = env('CLIENT_SECRET', '');
const PERSONA = env('PERSONA_NAME', 'BENCH TEST PERSONA');
const SUBS = 1024;
const subOf = (i) => `u=7b2c9e4a-bench-persona-${String(i % SUBS).padStart(4, '0')}`;
let nextSub = 0;
const USERINFO_VARIANTS = 4;
const CODE_TTL_S = 120;
const TOKEN_TTL_S = 3600;

function fail(msg) {
  console.error(`fake-sgid: ${msg}`);
  process.exit(2);
}
if (!Number.isInteger(PORT) || PORT <= 0 || !Number.isInteger(STATS_PORT) || STATS_PORT <= 0)
  fail('PORT and STATS_PORT must be set');
if (!CLIENT_ID || !CLIENT_SECRET) fail('CLIENT_ID and CLIENT_SECRET must be set');

const b64u = (b) => Buffer.from(b).toString('base64url');
const nowS = () => Math.floor(Date.now() / 1000);

// ---------------------------------------------------------------------------
// Primary: keys, workers, counters

// Workers accept on the shared socket themselves: with the default
// round-robin the primary accepts every connection and hands it over IPC,
// which costs more than a request when clients open connections often.
cluster.schedulingPolicy = cluster.SCHED_NONE;

if (cluster.isPrimary) {
  const pubPath = env('CLIENT_PUBLIC_KEY', '');
  if (!pubPath || !fs.existsSync(pubPath)) fail('CLIENT_PUBLIC_KEY must name a PEM file');
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const shared = {
    FAKE_SGID_SIGNING_KEY: privateKey.export({ format: 'pem', type: 'pkcs8' }),
    FAKE_SGID_CLIENT_PUB: fs.readFileSync(pubPath, 'utf8'),
    FAKE_SGID_MAC_KEY: crypto.randomBytes(32).toString('base64'),
  };
  const totals = { connections: { total: 0, by_client: {} }, requests: {}, requests_by_client: {} };
  const add = (obj, k, n) => { obj[k] = (obj[k] || 0) + n; };
  let ready = 0;
  for (let i = 0; i < PROCS; i++) {
    const w = cluster.fork(shared);
    w.on('message', (m) => {
      if (m && m.ready && ++ready === PROCS) console.log(`fake-sgid: listening on ${HOST}:${PORT}, ${PROCS} process(es)`);
      if (!m || !m.delta) return;
      totals.connections.total += m.delta.connections;
      for (const [k, n] of Object.entries(m.delta.by_client)) add(totals.connections.by_client, k, n);
      for (const [k, n] of Object.entries(m.delta.requests)) add(totals.requests, k, n);
      for (const [k, n] of Object.entries(m.delta.requests_by_client)) add(totals.requests_by_client, k, n);
    });
  }
  cluster.on('exit', (w, code, sig) => {
    console.error(`fake-sgid: worker ${w.process.pid} exited (${sig || code})`);
    process.exit(1);
  });
  // /delay and /inflight: a request to every worker, answered when all have.
  let askSeq = 0;
  const pending = new Map();
  const askAll = (msg, done) => {
    const id = ++askSeq;
    const ws = Object.values(cluster.workers);
    pending.set(id, { left: ws.length, replies: [], done });
    for (const w of ws) w.send({ ...msg, ask: id });
  };
  const onReply = (m) => {
    const p = pending.get(m.reply);
    if (!p) return;
    p.replies.push(m);
    if (--p.left === 0) { pending.delete(m.reply); p.done(p.replies); }
  };
  for (const w of Object.values(cluster.workers)) w.on('message', (m) => { if (m && m.reply) onReply(m); });
  let delayMs = 0;
  http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    const json = (o) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify(o)); };
    if (req.method === 'POST' && u.pathname === '/delay') {
      delayMs = Math.max(0, Math.min(60000, Number(u.searchParams.get('ms')) || 0));
      return askAll({ delay: delayMs }, () => json({ delay_ms: delayMs }));
    }
    if (u.pathname === '/inflight') {
      const at = (u.searchParams.get('at') || '').split(',').filter((x) => x !== '').map(Number);
      return askAll({ record: true }, (replies) => {
        // sweep over every process's starts and ends: +1 at a start, -1 at an end
        const ev = [];
        for (const r of replies) {
          for (const t of r.starts) ev.push([t, 1]);
          for (const t of r.ends) ev.push([t, -1]);
        }
        ev.sort((a, b) => a[0] - b[0] || a[1] - b[1]); // an end before a start at the same ms
        let cur = 0, max = 0, maxAt = 0;
        for (const [t, d] of ev) { cur += d; if (cur > max) { max = cur; maxAt = t; } }
        const openAt = at.map((t) => ev.reduce((n, e) => n + (e[0] <= t ? e[1] : 0), 0));
        json({ delay_ms: delayMs, calls: replies.reduce((n, r) => n + r.starts.length, 0), max, max_at: maxAt, at: openAt });
      });
    }
    // workers flush every 100 ms: let a caller see everything up to now
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(totals));
    }, 250);
  }).listen(STATS_PORT, HOST);
  const stop = () => { for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM'); process.exit(0); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return;
}

// ---------------------------------------------------------------------------
// Worker

const signingKey = crypto.createPrivateKey(process.env.FAKE_SGID_SIGNING_KEY);
const clientPub = crypto.createPublicKey(process.env.FAKE_SGID_CLIENT_PUB);
const macKey = Buffer.from(process.env.FAKE_SGID_MAC_KEY, 'base64');
const jwk = signingKey.export({ format: 'jwk' });
const KID = crypto.createHash('sha256').update(`${jwk.e}.${jwk.n}`).digest('base64url').slice(0, 16);
const JWKS = JSON.stringify({ keys: [{ kty: 'RSA', e: jwk.e, n: jwk.n, kid: KID, use: 'sig', alg: 'RS256' }] });
const ID_TOKEN_HEADER = b64u(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: KID }));
const KEY_JWE_HEADER = b64u(JSON.stringify({ alg: 'RSA-OAEP', enc: 'A128CBC-HS256', kid: 'bench-client-key' }));
const DATA_JWE_HEADER = b64u(JSON.stringify({ alg: 'dir', enc: 'A256GCM', kid: 'bench-block-key' }));
const KEY_AAD = Buffer.from(KEY_JWE_HEADER, 'ascii');
const DATA_AAD = Buffer.from(DATA_JWE_HEADER, 'ascii');

// sgID far away (POST /delay on the stats port): token and userinfo answers
// wait DELAY_MS on a timer; while it is set, every such call's arrival and
// end (epoch ms) is recorded for /inflight.
let DELAY_MS = 0;
let starts = [];
let ends = [];
process.on('message', (m) => {
  if (!m || !m.ask) return;
  if (m.delay !== undefined) {
    DELAY_MS = m.delay;
    starts = [];
    ends = [];
    process.send({ reply: m.ask });
  } else if (m.record) {
    process.send({ reply: m.ask, starts, ends });
  }
});
const epochMs = () => performance.timeOrigin + performance.now();
// delayed(res, fn): fn after DELAY_MS; the call counts as open until its
// answer is finished or the connection closed.
function delayed(res, fn) {
  if (DELAY_MS <= 0) return fn();
  starts.push(epochMs());
  let ended = false;
  const end = () => { if (!ended) { ended = true; ends.push(epochMs()); } };
  res.on('finish', end);
  res.on('close', end);
  setTimeout(() => { if (!res.destroyed) fn(); }, DELAY_MS);
  return undefined;
}

// Counters, flushed to the primary.
let delta = { connections: 0, by_client: {}, requests: {}, requests_by_client: {} };
const bump = (obj, k) => { obj[k] = (obj[k] || 0) + 1; };
setInterval(() => {
  if (delta.connections === 0 && Object.keys(delta.requests).length === 0) return;
  process.send({ delta });
  delta = { connections: 0, by_client: {}, requests: {}, requests_by_client: {} };
}, 100).unref();

// Stateless, HMAC-protected values: "<b64u json>.<b64u mac>".
function seal(obj) {
  const body = b64u(JSON.stringify(obj));
  return `${body}.${crypto.createHmac('sha256', macKey).update(body).digest('base64url').slice(0, 22)}`;
}
function unseal(s) {
  if (typeof s !== 'string') return null;
  const dot = s.indexOf('.');
  if (dot < 1) return null;
  const body = s.slice(0, dot);
  const mac = crypto.createHmac('sha256', macKey).update(body).digest('base64url').slice(0, 22);
  if (mac.length !== s.length - dot - 1 || !crypto.timingSafeEqual(Buffer.from(mac), Buffer.from(s.slice(dot + 1)))) return null;
  try {
    const v = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    return v && v.x > nowS() ? v : null;
  } catch {
    return null;
  }
}

function send(res, status, body, headers = {}) {
  const b = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(b), 'cache-control': 'no-store', ...headers });
  res.end(b);
}
const oauthError = (res, status, error, description) => send(res, status, { error, error_description: description });

function authorize(res, q) {
  const redirectUri = q.get('redirect_uri');
  if (q.get('client_id') !== CLIENT_ID || !redirectUri || q.get('response_type') !== 'code' ||
      q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge') || !(q.get('scope') || '').split(' ').includes('openid'))
    return oauthError(res, 400, 'invalid_request', 'bad authorization request');
  const code = seal({ n: q.get('nonce'), c: q.get('code_challenge'), r: redirectUri, s: subOf(nextSub++), x: nowS() + CODE_TTL_S });
  let loc = `${redirectUri}${redirectUri.includes('?') ? '&' : '?'}code=${encodeURIComponent(code)}`;
  if (q.has('state')) loc += `&state=${encodeURIComponent(q.get('state'))}`;
  res.writeHead(302, { location: loc, 'content-length': 0 });
  res.end();
}

function token(res, form) {
  if (form.get('client_id') !== CLIENT_ID || form.get('client_secret') !== CLIENT_SECRET)
    return oauthError(res, 401, 'invalid_client', 'client authentication failed');
  const c = unseal(form.get('code'));
  if (form.get('grant_type') !== 'authorization_code' || !c || c.r !== form.get('redirect_uri'))
    return oauthError(res, 400, 'invalid_grant', 'bad code');
  const verifier = form.get('code_verifier') || '';
  if (crypto.createHash('sha256').update(verifier).digest('base64url') !== c.c)
    return oauthError(res, 400, 'invalid_grant', 'PKCE verification failed');
  const now = nowS();
  const claims = { iss: ISSUER, sub: c.s, aud: CLIENT_ID, exp: now + 300, iat: now };
  if (c.n) claims.nonce = c.n;
  const input = `${ID_TOKEN_HEADER}.${b64u(JSON.stringify(claims))}`;
  const idToken = `${input}.${crypto.sign('sha256', Buffer.from(input), signingKey).toString('base64url')}`;
  send(res, 200, { access_token: seal({ s: c.s, x: now + TOKEN_TTL_S }), id_token: idToken, token_type: 'Bearer', expires_in: TOKEN_TTL_S, scope: 'openid myinfo.name' });
}

// JWE compact, RSA-OAEP (SHA-1) + A128CBC-HS256, to the client's key.
function keyJwe(plain) {
  const cek = crypto.randomBytes(32);
  const ek = crypto.publicEncrypt({ key: clientPub, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, cek);
  const iv = crypto.randomBytes(16);
  const ci = crypto.createCipheriv('aes-128-cbc', cek.subarray(16), iv);
  const ct = Buffer.concat([ci.update(plain), ci.final()]);
  const al = Buffer.alloc(8);
  al.writeBigUInt64BE(BigInt(KEY_AAD.length * 8));
  const tag = crypto.createHmac('sha256', cek.subarray(0, 16)).update(KEY_AAD).update(iv).update(ct).update(al).digest().subarray(0, 16);
  return `${KEY_JWE_HEADER}.${b64u(ek)}.${b64u(iv)}.${b64u(ct)}.${b64u(tag)}`;
}

// JWE compact, dir + A256GCM, under the block key.
function dataJwe(key, plain) {
  const iv = crypto.randomBytes(12);
  const ci = crypto.createCipheriv('aes-256-gcm', key, iv);
  ci.setAAD(DATA_AAD);
  const ct = Buffer.concat([ci.update(plain, 'utf8'), ci.final()]);
  return `${DATA_JWE_HEADER}..${b64u(iv)}.${b64u(ct)}.${b64u(ci.getAuthTag())}`;
}

function userinfoBody(sub) {
  const block = crypto.randomBytes(32);
  const blockJwk = JSON.stringify({ kty: 'oct', kid: 'bench-block-key', alg: 'A256GCM', k: b64u(block) });
  return JSON.stringify({ sub, key: keyJwe(blockJwk), data: { 'myinfo.name': dataJwe(block, PERSONA) } });
}
const USERINFO_BODIES = new Map(); // sub -> its USERINFO_VARIANTS bodies
let nextBody = 0;

function userinfo(req, res) {
  const auth = req.headers.authorization || '';
  const t = auth.startsWith('Bearer ') ? unseal(auth.slice(7)) : null;
  if (!t || typeof t.s !== 'string' || !t.s.startsWith('u=7b2c9e4a-bench-persona-')) {
    res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"', 'content-length': 0 });
    return res.end();
  }
  let bodies = USERINFO_BODIES.get(t.s);
  if (!bodies) {
    bodies = Array.from({ length: USERINFO_VARIANTS }, () => userinfoBody(t.s));
    USERINFO_BODIES.set(t.s, bodies);
  }
  nextBody = (nextBody + 1) % USERINFO_VARIANTS;
  return send(res, 200, bodies[nextBody]);
}

function clientOf(req) {
  const ua = req.headers['user-agent'] || '';
  if (ua.startsWith('sgid-fcgi')) return 'sgid-fcgi';
  if (ua.startsWith('openid-client')) return 'openid-client';
  return 'other';
}

const server = http.createServer((req, res) => {
  const sock = req.socket;
  if (!sock.benchCounted) {
    sock.benchCounted = true;
    bump(delta.by_client, clientOf(req));
  }
  const qi = req.url.indexOf('?');
  const path = qi < 0 ? req.url : req.url.slice(0, qi);
  const query = new URLSearchParams(qi < 0 ? '' : req.url.slice(qi + 1));
  const route = (name, fn) => { bump(delta.requests, name); bump(delta.requests_by_client, clientOf(req)); fn(); };
  if (req.method === 'GET' && path === '/v2/oauth/authorize') return route('authorize', () => authorize(res, query));
  if (req.method === 'GET' && path === '/v2/.well-known/jwks.json') return route('jwks', () => send(res, 200, JWKS));
  if (req.method === 'GET' && path === '/v2/oauth/userinfo') return route('userinfo', () => delayed(res, () => userinfo(req, res)));
  if (req.method === 'POST' && path === '/v2/oauth/token') {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > 65536) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => route('token', () => delayed(res, () => token(res, new URLSearchParams(Buffer.concat(chunks).toString('utf8'))))));
    return undefined;
  }
  bump(delta.requests, 'not_found');
  return send(res, 404, { error: 'not_found' });
});
server.on('connection', () => { delta.connections++; });
// Keep clients' connections as a real IdP's load balancer would (60 s+):
// the connection counts are then the clients' reuse, not our timeouts.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 125_000;
server.requestTimeout = 30_000;
server.listen(PORT, HOST, () => process.send({ ready: true }));
