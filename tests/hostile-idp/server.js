// Hostile sgID v2 look-alike for tests. Listens on 127.0.0.1 only.
//
// Unlike MockPass it checks what the client sends (client_secret_post fields,
// redirect_uri equality, PKCE S256, the Bearer header) and records every
// deviation as a violation; and every response can be scripted per test
// through the control API under /__control/. See README.md beside this file.
//
// Concurrency: GET /__control/inflight gives {token, userinfo, sgid, since},
// each {now, max}: the token/userinfo requests in flight now and the most at
// the same moment since `since` (sgid: the two summed), counted from a
// request's arrival to its response's close (delay_ms included; a client that
// hangs up ends its request). POST /__control/inflight/reset sets every max
// to its now (so does /__control/reset); /__control/log carries it too.
//
// Env: PORT (5157), CLIENT_ID, CLIENT_SECRET (required), CLIENT_PUBLIC_KEY
// (path to the client's SPKI PEM; falls back to the test vectors), ISSUER
// (default http://localhost:PORT/v2), REDIRECT_URIS (optional, comma list of
// registered redirect URIs), PERSONA_NAME.

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as jose from 'jose';
import loopback from '../loopback-listen.cjs';

const { listenLoopback } = loopback;

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PORT = intEnv('PORT', 5157);
const ISSUER = process.env.ISSUER || `http://localhost:${PORT}/v2`;
const CLIENT_ID = process.env.CLIENT_ID || '';
const CLIENT_SECRET = process.env.CLIENT_SECRET || '';
const REDIRECT_URIS = (process.env.REDIRECT_URIS || '').split(',').filter(Boolean);
const PERSONA = process.env.PERSONA_NAME || 'HOSTILE TEST PERSONA';

const CODE_TTL_MS = 120_000;
const MAX_BODY = 1024 * 1024;     // request bodies we accept (token, control)
const MAX_DELAY_MS = 60_000;      // scripted latency is capped
const MAX_HUGE_MB = 64;           // scripted huge bodies are capped
const MAX_LOG = 2000;             // recorded requests / violations kept
const MAX_MAP = 10_000;           // codes / access tokens kept

if (!CLIENT_ID || !CLIENT_SECRET) {
  console.error('hostile-idp: CLIENT_ID and CLIENT_SECRET must be set');
  process.exit(2);
}

function intEnv(name, dflt) {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0 || n > 65535) {
    console.error(`hostile-idp: bad ${name}`);
    process.exit(2);
  }
  return n;
}

// ---------------------------------------------------------------------------
// Keys

function loadClientPublicKeyPem() {
  const p = process.env.CLIENT_PUBLIC_KEY;
  if (p && fs.existsSync(p)) return fs.readFileSync(p, 'utf8');
  const vectors = path.join(HERE, '..', 'vectors', 'sgid-test-vectors.json');
  if (p) console.error(`hostile-idp: ${p} not found, using the test vectors' client key`);
  return JSON.parse(fs.readFileSync(vectors, 'utf8')).client_public_key_spki_pem;
}

const b64u = (buf) => Buffer.from(buf).toString('base64url');
const rand = (n) => crypto.randomBytes(n).toString('base64url');

function rsaKey(label, bits = 2048) {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: bits });
  const kid = `${label}-${rand(6)}`;
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' };
  return { kid, privateKey, publicKey, jwk };
}

const keys = {
  current: rsaKey('hostile'),
  previous: null,                        // the key before the last rotation
  foreign: rsaKey('foreign'),            // never in the JWKS unless asked
  decoys: [rsaKey('decoy'), rsaKey('decoy')],
  weak: rsaKey('weak', 1024),            // too small to be trusted
  clientPem: loadClientPublicKeyPem(),
  wrongClient: crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey,
};
keys.client = crypto.createPublicKey(keys.clientPem);
// The client secrets token accepts: CLIENT_SECRET, or what
// POST /__control/client set (a rotation: the old and the new one at once).
let clientSecrets = [CLIENT_SECRET];

function rotate() {
  keys.previous = keys.current;
  keys.current = rsaKey('hostile');
  return keys.current.kid;
}

// ---------------------------------------------------------------------------
// State: scenario, codes, tokens, the log

const SECTIONS = {
  authorize: ['error', 'error_description', 'state', 'omit_state', 'code', 'omit_code', 'extra_query'],
  id_token: ['claims_set', 'claims_remove', 'claims_relative', 'header_set', 'header_remove',
    'sign', 'payload_raw', 'raw'],
  jwks: ['keys', 'strip_kid', 'garbage', 'non_rsa', 'extra', 'status', 'raw_body', 'delay_ms',
    'content_type'],
  token: ['status', 'body_set', 'body_remove', 'raw_body', 'huge_mb', 'delay_ms', 'destroy',
    'content_type', 'headers'],
  userinfo: ['status', 'sub', 'data_plain', 'data_values', 'body_set', 'body_remove', 'raw_body',
    'huge_mb', 'delay_ms', 'destroy', 'content_type', 'headers', 'www_authenticate', 'jwe'],
};
const JWE_OPTS = ['key_alg', 'key_enc', 'key_zip', 'key_tamper', 'key_plain_raw', 'wrong_rsa_key',
  'data_alg', 'data_enc', 'data_zip', 'data_tamper', 'wrong_block_key', 'block_key_bytes'];
const SIGN_MODES = ['rs256', 'rs256_previous', 'rs256_foreign', 'rs256_decoy', 'rs256_weak',
  'rs384', 'ps256', 'hs256_secret', 'none', 'corrupt_sig', 'jwk_embedded'];
const TAMPERS = ['ciphertext', 'tag', 'iv', 'ek', 'header', 'truncate', 'truncate_tag', 'empty_tag',
  'parts4', 'parts6', 'bad_b64'];

let scenario = {};
const codes = new Map();
const tokens = new Map();
const log = freshLog();
const issued = { codes: [], access_tokens: [], code_verifiers: [], id_token_signatures: [], block_keys: [] };

// Concurrency: token and userinfo requests in flight right now (from the
// request's arrival to its response's close, delays included) and the most
// at the same moment since start or the last reset ("sgid" = the two summed).
const inflight = {
  token: { now: 0, max: 0 }, userinfo: { now: 0, max: 0 }, sgid: { now: 0, max: 0 }, since: Date.now(),
};
function inflightEnter(kind) {
  for (const c of [inflight[kind], inflight.sgid]) { c.now++; if (c.now > c.max) c.max = c.now; }
}
function inflightLeave(kind) {
  for (const c of [inflight[kind], inflight.sgid]) c.now--;
}
function inflightReset() {
  for (const k of ['token', 'userinfo', 'sgid']) inflight[k].max = inflight[k].now;
  inflight.since = Date.now();
}

function freshLog() {
  return {
    requests: [], violations: [],
    counters: { discovery: 0, jwks_requests: 0, authorize: 0, token: 0, userinfo: 0, not_found: 0 },
  };
}

function remember(map, k, v) {
  if (map.size >= MAX_MAP) map.delete(map.keys().next().value);
  map.set(k, v);
}
function note(list, v) { if (list.length < MAX_MAP) list.push(v); }

function violation(endpoint, code, detail) {
  if (log.violations.length < MAX_LOG) log.violations.push({ t: Date.now(), endpoint, code, detail });
  console.log(`  violation ${endpoint} ${code}: ${detail}`);
}

function validateScenario(s) {
  if (typeof s !== 'object' || s === null || Array.isArray(s)) return 'scenario must be an object';
  for (const [sec, v] of Object.entries(s)) {
    if (!SECTIONS[sec]) return `unknown section ${sec}`;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return `${sec} must be an object`;
    for (const k of Object.keys(v)) if (!SECTIONS[sec].includes(k)) return `unknown option ${sec}.${k}`;
  }
  const it = s.id_token || {};
  if (it.sign !== undefined && !SIGN_MODES.includes(it.sign)) return `unknown id_token.sign ${it.sign}`;
  const j = (s.userinfo || {}).jwe || {};
  for (const k of Object.keys(j)) if (!JWE_OPTS.includes(k)) return `unknown option userinfo.jwe.${k}`;
  for (const t of [j.key_tamper, j.data_tamper]) {
    if (t !== undefined && !TAMPERS.includes(t)) return `unknown tamper ${t}`;
  }
  for (const sec of ['token', 'userinfo', 'jwks']) {
    const d = (s[sec] || {}).delay_ms;
    if (d !== undefined && !(Number.isInteger(d) && d >= 0 && d <= MAX_DELAY_MS)) return `${sec}.delay_ms out of range`;
    const h = (s[sec] || {}).huge_mb;
    if (h !== undefined && !(h > 0 && h <= MAX_HUGE_MB)) return `${sec}.huge_mb out of range`;
  }
  return null;
}

// ---------------------------------------------------------------------------
// HTTP helpers

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) { reject(new Error('body too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function send(res, status, body, type = 'application/json', headers = {}) {
  if (res.destroyed || res.headersSent) return;
  const buf = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': buf.length, 'Cache-Control': 'no-store', ...headers });
  res.end(buf);
}

// Streams {"<prefix fields>","padding":"AAAA..."} of about mb MiB; stops when
// the client goes away.
async function sendHuge(res, status, obj, mb, type) {
  const head = JSON.stringify(obj).slice(0, -1) + (Object.keys(obj).length ? ',' : '') + '"padding":"';
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
  const chunk = 'A'.repeat(64 * 1024);
  const n = Math.ceil((mb * 1024 * 1024) / chunk.length);
  res.write(head);
  for (let i = 0; i < n && !res.destroyed; i++) {
    if (!res.write(chunk)) {
      await new Promise((r) => { res.once('drain', r); res.once('close', r); });
    }
  }
  if (!res.destroyed) res.end('"}');
}

// Shared tail of the token and userinfo endpoints: latency, socket
// destruction, status, raw/huge bodies, then the JSON object.
async function scriptedSend(res, sc, obj) {
  if (sc.delay_ms) await sleep(sc.delay_ms);
  if (res.destroyed) return;
  const type = sc.content_type || 'application/json';
  const status = sc.status || 200;
  const headers = { ...(sc.headers || {}) };
  if (sc.www_authenticate) headers['WWW-Authenticate'] = sc.www_authenticate;
  if (sc.destroy === 'before_headers') { res.socket.destroy(); return; }
  if (sc.destroy === 'mid_body') {
    const full = typeof sc.raw_body === 'string' ? sc.raw_body : JSON.stringify(obj);
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': full.length + 100, ...headers });
    res.write(full.slice(0, Math.floor(full.length / 2)));
    setTimeout(() => res.socket && res.socket.destroy(), 50);
    return;
  }
  if (sc.huge_mb) { await sendHuge(res, status, obj, sc.huge_mb, type); return; }
  if (typeof sc.raw_body === 'string') { send(res, status, sc.raw_body, type, headers); return; }
  send(res, status, obj, type, headers);
}

function applyBodyOverrides(obj, sc) {
  Object.assign(obj, sc.body_set || {});
  for (const k of sc.body_remove || []) delete obj[k];
  return obj;
}

// ---------------------------------------------------------------------------
// ID token (JWS built by hand so the header can lie about the signature)

function signingKeyFor(mode) {
  switch (mode) {
    case 'rs256_previous': return keys.previous || keys.current;
    case 'rs256_foreign': case 'jwk_embedded': return keys.foreign;
    case 'rs256_decoy': return keys.decoys[1];
    case 'rs256_weak': return keys.weak;
    default: return keys.current;
  }
}

function buildIdToken(rec, sc) {
  if (typeof sc.raw === 'string') return sc.raw;
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: ISSUER, sub: rec.sub, aud: CLIENT_ID, exp: now + 300, iat: now };
  if (rec.nonce !== undefined) claims.nonce = rec.nonce;
  Object.assign(claims, sc.claims_set || {});
  for (const [k, off] of Object.entries(sc.claims_relative || {})) claims[k] = now + off;
  for (const k of sc.claims_remove || []) delete claims[k];

  const mode = sc.sign || 'rs256';
  const key = signingKeyFor(mode);
  const header = { alg: 'RS256', typ: 'JWT', kid: key.kid };
  if (mode === 'rs256_foreign') header.kid = keys.current.kid; // claims to be our key
  if (mode === 'rs384') header.alg = 'RS384';
  if (mode === 'ps256') header.alg = 'PS256';
  if (mode === 'hs256_secret') { header.alg = 'HS256'; delete header.kid; }
  if (mode === 'none') { header.alg = 'none'; delete header.kid; }
  if (mode === 'jwk_embedded') { header.kid = 'attacker'; header.jwk = { ...key.jwk, kid: 'attacker' }; }
  Object.assign(header, sc.header_set || {});
  for (const k of sc.header_remove || []) delete header[k];

  const payloadB64 = typeof sc.payload_raw === 'string' ? b64u(sc.payload_raw) : b64u(JSON.stringify(claims));
  const input = `${b64u(JSON.stringify(header))}.${payloadB64}`;
  let sig;
  switch (mode) {
    case 'none': sig = Buffer.alloc(0); break;
    case 'hs256_secret': sig = crypto.createHmac('sha256', CLIENT_SECRET).update(input).digest(); break;
    case 'rs384': sig = crypto.sign('sha384', Buffer.from(input), key.privateKey); break;
    case 'ps256':
      sig = crypto.sign('sha256', Buffer.from(input), {
        key: key.privateKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32,
      });
      break;
    default: sig = crypto.sign('sha256', Buffer.from(input), key.privateKey);
  }
  if (mode === 'corrupt_sig') sig[Math.floor(sig.length / 2)] ^= 0x01;
  if (sig.length) note(issued.id_token_signatures, b64u(sig));
  return `${input}.${b64u(sig)}`;
}

// ---------------------------------------------------------------------------
// JWKS

function garbageJwks() {
  return [
    'not-a-jwk', 42, null, [],
    { kty: 'RSA', kid: 'garbage-no-n', e: 'AQAB' },
    { kty: 'RSA', kid: 'garbage-bad-n', n: '!!!not base64url!!!', e: 'AQAB' },
    { kty: 'RSA', kid: 'garbage-n-type', n: 12345, e: 'AQAB' },
    { kty: 'RSA', kid: 'garbage-empty-e', n: keys.decoys[0].jwk.n, e: '' },
    { kty: 'RSA', kid: 'garbage-enc-use', n: keys.decoys[0].jwk.n, e: 'AQAB', use: 'enc' },
    { kty: 'RSA', kid: 'garbage-alg-hs', n: keys.decoys[0].jwk.n, e: 'AQAB', alg: 'HS256' },
    { kid: 'garbage-no-kty', n: keys.decoys[0].jwk.n, e: 'AQAB' },
    { kty: 'RSA', kid: { nested: true }, n: keys.decoys[0].jwk.n, e: 'AQAB' },
  ];
}

function nonRsaJwks() {
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
  const ed = crypto.generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
  return [
    { ...ec, kid: 'ec-key', use: 'sig', alg: 'ES256' },
    { ...ed, kid: 'okp-key', use: 'sig', alg: 'EdDSA' },
    // the classic confusion: the client secret published as an HMAC key
    { kty: 'oct', kid: 'oct-key', k: b64u(CLIENT_SECRET), alg: 'HS256', use: 'sig' },
  ];
}

function buildJwks(sc) {
  const names = sc.keys || ['current'];
  let list = [];
  for (const name of names) {
    if (name === 'current') list.push(keys.current.jwk);
    else if (name === 'previous' && keys.previous) list.push(keys.previous.jwk);
    else if (name === 'foreign') list.push(keys.foreign.jwk);
    else if (name === 'decoys') list.push(...keys.decoys.map((k) => k.jwk));
    else if (name === 'weak') list.push(keys.weak.jwk);
  }
  list = list.map((k) => ({ ...k }));
  if (sc.strip_kid) for (const k of list) delete k.kid;
  if (sc.garbage) list = [...garbageJwks(), ...list];
  if (sc.non_rsa) list = [...nonRsaJwks(), ...list];
  if (Array.isArray(sc.extra)) list.push(...sc.extra);
  return { keys: list };
}

// ---------------------------------------------------------------------------
// Userinfo JWEs

const ENC_KEY_BYTES = {
  A128GCM: 16, A192GCM: 24, A256GCM: 32,
  'A128CBC-HS256': 32, 'A192CBC-HS384': 48, 'A256CBC-HS512': 64,
};
const KW_KEY_BYTES = { A128GCMKW: 16, A192GCMKW: 24, A256GCMKW: 32, A128KW: 16, A192KW: 24, A256KW: 32 };

// Content encryption for the one JWE jose will not build (RSA1_5).
function contentEncrypt(enc, cek, aad, plaintext) {
  if (/GCM$/.test(enc)) {
    const iv = crypto.randomBytes(12);
    const c = crypto.createCipheriv(`aes-${cek.length * 8}-gcm`, cek, iv);
    c.setAAD(Buffer.from(aad));
    const ct = Buffer.concat([c.update(plaintext), c.final()]);
    return { iv, ct, tag: c.getAuthTag() };
  }
  const half = cek.length / 2;
  const iv = crypto.randomBytes(16);
  const c = crypto.createCipheriv(`aes-${half * 8}-cbc`, cek.subarray(half), iv);
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  const al = Buffer.alloc(8);
  al.writeBigUInt64BE(BigInt(Buffer.byteLength(aad) * 8));
  const mac = crypto.createHmac(`sha${half * 16}`, cek.subarray(0, half))
    .update(Buffer.concat([Buffer.from(aad), iv, ct, al])).digest();
  return { iv, ct, tag: mac.subarray(0, half) };
}

async function encryptToRsa(plaintext, alg, enc, zip, publicKey) {
  if (alg === 'RSA1_5') {
    const header = b64u(JSON.stringify({ alg, enc, ...(zip ? { zip: 'DEF' } : {}) }));
    const cek = crypto.randomBytes(ENC_KEY_BYTES[enc]);
    const ek = crypto.publicEncrypt({ key: publicKey, padding: crypto.constants.RSA_PKCS1_PADDING }, cek);
    const { iv, ct, tag } = contentEncrypt(enc, cek, header, Buffer.from(plaintext));
    return [header, b64u(ek), b64u(iv), b64u(ct), b64u(tag)].join('.');
  }
  return new jose.CompactEncrypt(new TextEncoder().encode(plaintext))
    .setProtectedHeader({ alg, enc, ...(zip ? { zip: 'DEF' } : {}) })
    .encrypt(publicKey);
}

async function encryptSym(plaintext, alg, enc, zip, key) {
  return new jose.CompactEncrypt(new TextEncoder().encode(plaintext))
    .setProtectedHeader({ alg, enc, ...(zip ? { zip: 'DEF' } : {}) })
    .encrypt(new Uint8Array(key));
}

function flipSeg(seg) {
  const b = Buffer.from(seg, 'base64url');
  if (b.length === 0) return 'AAAAAAAAAAAAAAAAAAAAAA';
  b[Math.floor(b.length / 2)] ^= 0x01;
  return b64u(b);
}

function tamper(jwe, how) {
  if (!how) return jwe;
  const p = jwe.split('.');
  switch (how) {
    case 'ciphertext': p[3] = flipSeg(p[3]); break;
    case 'tag': p[4] = flipSeg(p[4]); break;
    case 'iv': p[2] = flipSeg(p[2]); break;
    case 'ek': p[1] = flipSeg(p[1]); break;
    case 'header': {
      const h = JSON.parse(Buffer.from(p[0], 'base64url').toString('utf8'));
      h.x_hostile = 1;             // changes the AAD
      p[0] = b64u(JSON.stringify(h));
      break;
    }
    case 'truncate': return jwe.slice(0, Math.floor(jwe.length * 0.6));
    case 'truncate_tag': p[4] = b64u(Buffer.from(p[4], 'base64url').subarray(0, 8)); break;
    case 'empty_tag': p[4] = ''; break;
    case 'parts4': p.pop(); break;
    case 'parts6': p.push(p[4]); break;
    case 'bad_b64': p[3] = `${p[3].slice(0, 4)}*!${p[3].slice(4)}`; break;
    default: break;
  }
  return p.join('.');
}

async function buildUserinfo(tok, sc) {
  const j = sc.jwe || {};
  const plain = { 'myinfo.name': PERSONA };
  for (const s of tok.scope.split(' ')) {
    if (s && s !== 'openid' && !(s in plain)) plain[s] = `HOSTILE ${s}`;
  }
  Object.assign(plain, sc.data_plain || {});

  const keyAlg = j.key_alg || 'RSA-OAEP-256';
  const keyEnc = j.key_enc || 'A256GCM';
  const dataAlg = j.data_alg || 'A128GCMKW';
  const dataEnc = j.data_enc || 'A128GCM';
  const bytes = j.block_key_bytes || (dataAlg === 'dir' ? ENC_KEY_BYTES[dataEnc] : KW_KEY_BYTES[dataAlg]) || 16;
  const blockKey = crypto.randomBytes(bytes);
  note(issued.block_keys, b64u(blockKey));
  const jwkAlg = dataAlg === 'dir' ? dataEnc : `A${bytes * 8}GCM`;
  const keyPlain = typeof j.key_plain_raw === 'string'
    ? j.key_plain_raw : JSON.stringify({ kty: 'oct', alg: jwkAlg, k: b64u(blockKey) });

  const rsaPub = j.wrong_rsa_key ? keys.wrongClient : keys.client;
  let key = await encryptToRsa(keyPlain, keyAlg, keyEnc, j.key_zip, rsaPub);
  key = tamper(key, j.key_tamper);

  const dataKey = j.wrong_block_key ? crypto.randomBytes(bytes) : blockKey;
  const data = {};
  for (const [f, v] of Object.entries(plain)) {
    data[f] = tamper(await encryptSym(String(v), dataAlg, dataEnc, j.data_zip, dataKey), j.data_tamper);
  }
  Object.assign(data, sc.data_values || {});

  const sub = 'sub' in sc ? sc.sub : tok.sub;
  return applyBodyOverrides({ sub, key, data }, sc);
}

// ---------------------------------------------------------------------------
// Endpoints

function discovery() {
  return {
    issuer: ISSUER,
    authorization_endpoint: `${ISSUER}/oauth/authorize`,
    token_endpoint: `${ISSUER}/oauth/token`,
    userinfo_endpoint: `${ISSUER}/oauth/userinfo`,
    jwks_uri: `${ISSUER}/.well-known/jwks.json`,
    response_types_supported: ['code'],
    grant_types_supported: ['authorization_code'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    token_endpoint_auth_methods_supported: ['client_secret_post'],
    code_challenge_methods_supported: ['S256'],
    scopes_supported: ['openid', 'myinfo.name', 'myinfo.nric_number', 'myinfo.email', 'myinfo.mobile_number'],
  };
}

const AUTHORIZE_PARAMS = ['client_id', 'scope', 'response_type', 'redirect_uri', 'nonce', 'state',
  'code_challenge', 'code_challenge_method'];

function authorize(req, res, url, ctx) {
  log.counters.authorize++;
  const q = url.searchParams;
  const fatal = [];
  for (const k of new Set(q.keys())) {
    if (q.getAll(k).length > 1) violation('authorize', 'duplicate_param', k);
    if (!AUTHORIZE_PARAMS.includes(k)) violation('authorize', 'unknown_param', k);
  }
  const p = (k) => q.get(k);
  if (p('client_id') !== CLIENT_ID) fatal.push(['client_id', 'client_id is not the configured one']);
  if (p('response_type') !== 'code') fatal.push(['response_type', `response_type=${p('response_type')}`]);
  let redirect;
  try { redirect = new URL(p('redirect_uri')); } catch { redirect = null; }
  if (!redirect) fatal.push(['redirect_uri', 'missing or not a URL']);
  else if (REDIRECT_URIS.length && !REDIRECT_URIS.includes(p('redirect_uri'))) {
    fatal.push(['redirect_uri', 'not registered']);
  }
  const scope = p('scope') || '';
  if (!scope.split(' ').includes('openid')) fatal.push(['scope', `scope lacks openid: ${scope}`]);
  if (!/^[A-Za-z0-9_-]{43}$/.test(p('code_challenge') || '')) fatal.push(['code_challenge', 'missing or not 43 base64url chars']);
  if (p('code_challenge_method') !== 'S256') fatal.push(['code_challenge_method', `${p('code_challenge_method')}`]);
  if (p('nonce') === null) violation('authorize', 'no_nonce', 'authorize request without nonce');
  else if (p('nonce').length < 22) violation('authorize', 'short_nonce', `nonce of ${p('nonce').length} chars`);
  if (p('state') === null) violation('authorize', 'no_state', 'authorize request without state');
  for (const [code, detail] of fatal) violation('authorize', code, detail);
  if (fatal.length) {
    ctx.note = 'refused';
    send(res, 400, `authorize refused: ${fatal.map((f) => f[0]).join(', ')}\n`, 'text/plain');
    return;
  }

  const sc = scenario.authorize || {};
  const state = 'state' in sc ? sc.state : p('state');
  const params = new URLSearchParams();
  if (sc.error) {
    params.set('error', sc.error);
    if (sc.error_description) params.set('error_description', sc.error_description);
  } else if (!sc.omit_code) {
    const code = typeof sc.code === 'string' ? sc.code : rand(32);
    remember(codes, code, {
      client_id: p('client_id'), redirect_uri: p('redirect_uri'), nonce: p('nonce') ?? undefined,
      code_challenge: p('code_challenge'), code_challenge_method: p('code_challenge_method'),
      scope, sub: `u=hostile-${crypto.randomUUID()}`, used: false, created: Date.now(),
    });
    note(issued.codes, code);
    params.set('code', code);
  }
  if (!sc.omit_state && state !== null && state !== undefined) params.set('state', state);
  let qs = params.toString();
  if (sc.extra_query) qs += (qs ? '&' : '') + sc.extra_query;
  const loc = redirect.toString() + (qs ? (redirect.search ? '&' : '?') + qs : '');
  ctx.note = sc.error ? `error=${sc.error}` : 'code issued';
  res.writeHead(302, { Location: loc, 'Cache-Control': 'no-store' });
  res.end();
}

const TOKEN_FIELDS = ['grant_type', 'code', 'redirect_uri', 'client_id', 'client_secret', 'code_verifier'];

async function token(req, res, url, ctx) {
  log.counters.token++;
  const bad = (code, detail) => { violation('token', code, detail); return code; };
  const errs = [];
  if (req.method !== 'POST') {
    bad('method', req.method);
    send(res, 405, { error: 'invalid_request' });
    return;
  }
  if (url.search) errs.push(bad('query_string', 'token request carries a query string'));
  if (req.headers.authorization !== undefined) errs.push(bad('authorization_header', 'client_secret_post only, no Authorization header'));
  const ctype = (req.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
  if (ctype !== 'application/x-www-form-urlencoded') errs.push(bad('content_type', `content-type ${ctype || '(none)'}`));
  let body;
  try { body = new URLSearchParams(await readBody(req)); } catch {
    send(res, 413, { error: 'invalid_request' });
    return;
  }
  for (const k of new Set(body.keys())) {
    if (body.getAll(k).length > 1) errs.push(bad('duplicate_field', k));
    if (!TOKEN_FIELDS.includes(k)) errs.push(bad('unknown_field', k));
  }
  for (const k of TOKEN_FIELDS) if (!body.has(k)) errs.push(bad('missing_field', k));
  const f = (k) => body.get(k);
  if (f('grant_type') !== null && f('grant_type') !== 'authorization_code') errs.push(bad('grant_type', f('grant_type')));
  if (f('client_id') !== null && f('client_id') !== CLIENT_ID) errs.push(bad('client_id', 'not the configured client id'));
  if (f('client_secret') !== null && !clientSecrets.includes(f('client_secret'))) errs.push(bad('client_secret', 'wrong client secret'));
  const verifier = f('code_verifier');
  if (verifier !== null) note(issued.code_verifiers, verifier);
  const rec = f('code') !== null ? codes.get(f('code')) : undefined;
  if (f('code') !== null && !rec) errs.push(bad('code_unknown', 'code was never issued'));
  if (rec) {
    if (rec.used) errs.push(bad('code_reused', 'code presented a second time'));
    rec.used = true;   // single use, whatever happens next
    if (Date.now() - rec.created > CODE_TTL_MS) errs.push(bad('code_expired', 'code older than its lifetime'));
    if (f('redirect_uri') !== null && f('redirect_uri') !== rec.redirect_uri) errs.push(bad('redirect_uri', 'differs from the authorize request'));
    if (rec.code_challenge_method !== 'S256') errs.push(bad('pkce_method', 'authorize did not use S256'));
    if (verifier !== null) {
      if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier)) errs.push(bad('pkce_verifier_format', `verifier of ${verifier.length} chars`));
      const s256 = b64u(crypto.createHash('sha256').update(verifier, 'ascii').digest());
      if (s256 !== rec.code_challenge) errs.push(bad('pkce_mismatch', 'S256(code_verifier) != code_challenge'));
    }
  }
  if (errs.length) {
    ctx.note = `refused: ${errs.join(',')}`;
    send(res, 400, { error: 'invalid_grant', error_description: 'hostile-idp refused the token request' });
    return;
  }

  const accessToken = rand(32);
  remember(tokens, accessToken, { sub: rec.sub, scope: rec.scope, created: Date.now() });
  note(issued.access_tokens, accessToken);
  const sc = scenario.token || {};
  const idToken = buildIdToken(rec, scenario.id_token || {});
  const obj = applyBodyOverrides({
    access_token: accessToken, token_type: 'Bearer', expires_in: 86400, scope: rec.scope, id_token: idToken,
  }, sc);
  ctx.note = 'tokens issued';
  await scriptedSend(res, sc, obj);
}

async function userinfo(req, res, url, ctx) {
  log.counters.userinfo++;
  if (req.method !== 'GET') violation('userinfo', 'method', req.method);
  if (url.search) violation('userinfo', 'query_string', 'userinfo request carries a query string');
  const auth = req.headers.authorization;
  const m = /^Bearer ([A-Za-z0-9_-]+)$/.exec(auth || '');
  const tok = m ? tokens.get(m[1]) : undefined;
  if (!tok) {
    violation('userinfo', 'bearer', auth === undefined ? 'no Authorization header' : 'not "Bearer <issued access token>"');
    ctx.note = 'refused';
    send(res, 401, { error: 'invalid_token' }, 'application/json',
      { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
    return;
  }
  const sc = scenario.userinfo || {};
  const obj = await buildUserinfo(tok, sc);
  ctx.note = 'userinfo';
  await scriptedSend(res, sc, obj);
}

async function jwks(req, res, ctx) {
  log.counters.jwks_requests++;
  const sc = scenario.jwks || {};
  if (sc.delay_ms) await sleep(sc.delay_ms);
  const type = sc.content_type || 'application/json';
  if (typeof sc.raw_body === 'string') { ctx.note = 'raw'; send(res, sc.status || 200, sc.raw_body, type); return; }
  const set = buildJwks(sc);
  ctx.note = `kids=${set.keys.map((k) => (k && typeof k.kid === 'string' && k.kid) || '-').join(',')}`;
  send(res, sc.status || 200, set, type);
}

// The client as the sgID developer portal would change it during a
// rotation: {"public_key": SPKI PEM} (userinfo is encrypted to it from the
// next call on), {"secrets": [...]} (the client secrets token accepts).
// An error string, or null.
async function setClient(req) {
  let c;
  try { c = JSON.parse(await readBody(req) || '{}'); } catch (e) { return `bad JSON: ${e.message}`; }
  if (!c || typeof c !== 'object' || Array.isArray(c)) return 'not a JSON object';
  const unknown = Object.keys(c).filter((k) => !['public_key', 'secrets'].includes(k));
  if (unknown.length) return `unknown option(s) ${unknown.join(', ')}`;
  let pub = null;
  if ('public_key' in c) {
    try { pub = crypto.createPublicKey(c.public_key); } catch (e) { return `public_key: ${e.message}`; }
    if (pub.asymmetricKeyType !== 'rsa') return 'public_key: not an RSA key';
  }
  if ('secrets' in c && (!Array.isArray(c.secrets) || c.secrets.length === 0 || c.secrets.length > 4 ||
      !c.secrets.every((x) => typeof x === 'string' && x.length > 0))) {
    return 'secrets: 1 to 4 non-empty strings';
  }
  if (pub) { keys.client = pub; keys.clientPem = c.public_key; }
  if (c.secrets) clientSecrets = c.secrets.slice();
  return null;
}

async function control(req, res, url, ctx) {
  const route = `${req.method} ${url.pathname}`;
  ctx.note = route;
  if (route === 'GET /__control/log') {
    send(res, 200, { ...log, inflight, issued, current_kid: keys.current.kid, scenario });
    return;
  }
  if (route === 'GET /__control/inflight') { send(res, 200, inflight); return; }
  if (route === 'POST /__control/inflight/reset') { inflightReset(); send(res, 200, inflight); return; }
  if (route === 'GET /__control/scenario') { send(res, 200, scenario); return; }
  if (route === 'POST /__control/reset') {
    scenario = {};
    Object.assign(log, freshLog());
    inflightReset();
    send(res, 200, { ok: true });
    return;
  }
  if (route === 'POST /__control/rotate') { send(res, 200, { ok: true, kid: rotate() }); return; }
  if (route === 'POST /__control/client') {
    const err = await setClient(req);
    send(res, err ? 400 : 200, err ? { ok: false, error: err } : { ok: true, secrets: clientSecrets.length });
    return;
  }
  if (route === 'POST /__control/scenario') {
    let s;
    try { s = JSON.parse(await readBody(req) || '{}'); } catch (e) {
      send(res, 400, { ok: false, error: `bad JSON: ${e.message}` });
      return;
    }
    const err = validateScenario(s);
    if (err) { send(res, 400, { ok: false, error: err }); return; }
    scenario = s;
    send(res, 200, { ok: true });
    return;
  }
  send(res, 404, { ok: false, error: 'unknown control route' });
}

async function route(req, res, ctx) {
  const url = new URL(req.url, `http://localhost:${PORT}`);
  const p = url.pathname;
  if (p.startsWith('/__control/')) return control(req, res, url, ctx);
  if (p === '/v2/.well-known/openid-configuration' && req.method === 'GET') {
    log.counters.discovery++;
    return send(res, 200, discovery());
  }
  if (p === '/v2/.well-known/jwks.json' && req.method === 'GET') return jwks(req, res, ctx);
  if (p === '/v2/oauth/authorize' && req.method === 'GET') return authorize(req, res, url, ctx);
  if (p === '/v2/oauth/token') return token(req, res, url, ctx);
  if (p === '/v2/oauth/userinfo') return userinfo(req, res, url, ctx);
  log.counters.not_found++;
  return send(res, 404, { error: 'not_found' });
}

function handle(req, res) {
  const t0 = Date.now();
  const ctx = { note: '' };
  const path0 = req.url.split('?')[0];     // never log query strings: they carry codes
  const kind = path0 === '/v2/oauth/token' ? 'token' : path0 === '/v2/oauth/userinfo' ? 'userinfo' : null;
  if (kind) inflightEnter(kind);
  res.on('close', () => {
    if (kind) inflightLeave(kind);
    const ms = Date.now() - t0;
    const status = res.headersSent ? res.statusCode : 0;
    if (!path0.startsWith('/__control/') && log.requests.length < MAX_LOG) {
      log.requests.push({ t: t0, method: req.method, path: path0, status, ms, note: ctx.note });
    }
    console.log(`${new Date(t0).toISOString()} ${req.method} ${path0} ${status || 'closed'} ${ms}ms ${ctx.note}`);
  });
  route(req, res, ctx).catch((e) => {
    console.log(`  error ${path0}: ${e.message}`);
    send(res, 500, { error: 'server_error' });
  });
}
const servers = listenLoopback(handle, PORT, () => {
  for (const s of servers) s.keepAliveTimeout = 5000;
  console.log(`hostile-idp listening on http://localhost:${PORT} (${servers.length} loopback address(es)) issuer ${ISSUER} kid ${keys.current.kid}`);
}, (msg) => { console.error(`hostile-idp: ${msg}`); process.exit(1); });
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => { for (const s of servers) s.close(); process.exit(0); });
