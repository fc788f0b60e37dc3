// hostile Singpass: a FAPI 2.0 Singpass look-alike that misbehaves on
// demand, for the Singpass relying party's rejection paths (README.md,
// "hostile Singpass"). The happy path it serves is a well-formed Singpass
// login (PAR, authorize, token with a JWE -> JWS ID token), so every case
// differs from an accepted login by the one attack its scenario names.
//
// Loopback only (127.0.0.1 and [::1]). One line per request on stdout
// (method, path without the query, status), never a secret.
//
// Env: PORT (default 5160), CLIENT_ID, ISSUER (http://localhost:PORT/fapi),
// CLIENT_JWKS_URI (the RP's GET /api/jwks: the ID token is encrypted to its
// first use:"enc" key), CLIENT_SIGNING_KEY (PEM: the RP's own TEST signing
// key, for the "signed by the client's own key" case).
import crypto from 'node:crypto'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import * as jose from 'jose'

const require = createRequire(import.meta.url)
const { listenLoopback } = require('../loopback-listen.cjs')

const env = (k, d) => (process.env[k] === undefined || process.env[k] === '' ? d : process.env[k])
const PORT = Number(env('PORT', '5160'))
const ISSUER = env('ISSUER', `http://localhost:${PORT}/fapi`)
const BASE = new URL(ISSUER).pathname.replace(/\/$/, '')
const CLIENT_ID = env('CLIENT_ID', 'sgidFcgiSingpassTestClient000001')
const CLIENT_JWKS_URI = env('CLIENT_JWKS_URI', 'http://localhost:5001/api/jwks')
const clientSigningKey = env('CLIENT_SIGNING_KEY', '') ? crypto.createPrivateKey(fs.readFileSync(env('CLIENT_SIGNING_KEY', ''))) : null

const ec = (crv = 'P-256') => crypto.generateKeyPairSync('ec', { namedCurve: crv })
const KID = 'hostile-singpass-sig-1'
const sigKey = ec()
const foreignKey = ec()
const encKey = ec() // published like Singpass's enc key; never used to sign
const pubJwk = (k, extra) => ({ ...k.publicKey.export({ format: 'jwk' }), ...extra })

// ---- scenario ----------------------------------------------------------------

// {
//   par:      {omit_request_uri, status, body_set, transient},
//   authorize:{error, iss},
//   id_token: {claims_set, claims_relative, claims_remove, sign, jwe, header_set},
//   token:    {status, body_set, body_remove, transient},
// transient: N: the next N calls answer Singpass's "try again" (503
// temporarily_unavailable at PAR, server_error at token), then as usual.
//   jwks:     "default" | "duplicate_kids"
// }
// sign: es256 (default) | none | hs256_pubkey | foreign_same_kid |
//       foreign_new_kid | client_key
// jwe:  normal (default) | epk_invalid_curve | epk_p384 | oversized | plain_jws
let scenario = {}
const SECTIONS = new Set(['par', 'authorize', 'id_token', 'token', 'jwks'])
let counters = { discovery: 0, jwks: 0, par: 0, authorize: 0, token: 0 }
const violations = []
const pars = new Map() // request_uri -> PAR params
const codes = new Map() // code -> PAR params (never consumed: replays are served)

function violation (endpoint, code, detail) { violations.push({ t: Date.now(), endpoint, code, detail }) }

// What the client sends on every PAR and token call, checked as Singpass
// would (its signatures aside: the stand-in checks those): the client
// assertion (aud = the issuer, exp at most 120 s after iat and not past, a
// jti never seen before) and the DPoP proof (htm POST, htu the endpoint,
// a jti never seen before), and a DPoP key no earlier PAR had.
const seenJtis = new Set()
const seenParKeys = new Map() // DPoP key -> the state of the login that brought it
function jwtPayload (compact) {
  try {
    return JSON.parse(Buffer.from(String(compact).split('.')[1], 'base64url').toString('utf8'))
  } catch (e) {
    return null
  }
}
function freshJti (endpoint, what, jti) {
  if (typeof jti !== 'string' || jti.length < 16) return violation(endpoint, `${what}_jti`, 'missing or short')
  if (seenJtis.has(jti)) return violation(endpoint, `${what}_jti`, 'reused')
  seenJtis.add(jti)
}
function checkClientAuth (endpoint, req, f) {
  const a = jwtPayload(f.get('client_assertion'))
  const now = Date.now() / 1000
  if (a) {
    if (a.aud !== ISSUER) violation(endpoint, 'client_assertion_aud', a.aud)
    if (a.iss !== CLIENT_ID || a.sub !== CLIENT_ID) violation(endpoint, 'client_assertion_iss', a.iss)
    if (!Number.isInteger(a.iat) || !Number.isInteger(a.exp) || a.exp - a.iat > 120 || a.exp <= now) violation(endpoint, 'client_assertion_exp', `${a.iat} ${a.exp}`)
    freshJti(endpoint, 'client_assertion', a.jti)
  }
  const d = req.headers.dpop ? jwtPayload(req.headers.dpop) : null
  if (d) {
    if (d.htm !== 'POST' || d.htu !== `${ISSUER}/${endpoint}`) violation(endpoint, 'dpop_htm_htu', `${d.htm} ${d.htu}`)
    freshJti(endpoint, 'dpop', d.jti)
  }
  // A login's DPoP key is new: no PAR brings a key an earlier login's PAR
  // had (a retry of the same login, its state the same, sends it again).
  if (endpoint === 'par' && req.headers.dpop) {
    let jwk = null
    try {
      jwk = JSON.parse(Buffer.from(String(req.headers.dpop).split('.')[0], 'base64url').toString('utf8')).jwk
    } catch (e) {}
    const id = jwk ? `${jwk.x}.${jwk.y}` : ''
    const state = f.get('state') || ''
    if (!id || (seenParKeys.has(id) && seenParKeys.get(id) !== state)) violation('par', 'dpop_key_reused', id ? 'a key an earlier login had' : 'no jwk')
    seenParKeys.set(id, state)
  }
}

// ---- responses -----------------------------------------------------------------

function send (res, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json', 'cache-control': 'no-store', ...headers })
  res.end(text)
}

async function readForm (req) {
  const chunks = []
  let n = 0
  for await (const c of req) {
    n += c.length
    if (n > 65536) throw new Error('body too large')
    chunks.push(c)
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
}

function discovery () {
  return {
    issuer: ISSUER,
    pushed_authorization_request_endpoint: `${ISSUER}/par`,
    authorization_endpoint: `${ISSUER}/auth`,
    token_endpoint: `${ISSUER}/token`,
    userinfo_endpoint: `${ISSUER}/userinfo`,
    jwks_uri: `${ISSUER}/.well-known/keys`,
    response_types_supported: ['code'],
    scopes_supported: ['openid', 'user.identity', 'name', 'uinfin'],
    token_endpoint_auth_methods_supported: ['private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: ['ES256'],
    id_token_signing_alg_values_supported: ['ES256'],
    id_token_encryption_alg_values_supported: ['ECDH-ES+A256KW', 'ECDH-ES+A192KW', 'ECDH-ES+A128KW'],
    id_token_encryption_enc_values_supported: ['A256CBC-HS512', 'A256GCM'],
    dpop_signing_alg_values_supported: ['ES256'],
    code_challenge_methods_supported: ['S256'],
    require_pushed_authorization_requests: true,
  }
}

function jwks () {
  const keys = [pubJwk(sigKey, { kid: KID, use: 'sig', alg: 'ES256' }), pubJwk(encKey, { kid: 'hostile-singpass-enc-1', use: 'enc', alg: 'ECDH-ES+A256KW' })]
  // Two different keys under one kid: the one the token is signed with second.
  if (scenario.jwks === 'duplicate_kids') keys.unshift(pubJwk(foreignKey, { kid: KID, use: 'sig', alg: 'ES256' }))
  return { keys }
}

async function clientEncKey () {
  const r = await fetch(CLIENT_JWKS_URI)
  if (!r.ok) throw new Error(`client JWKS: HTTP ${r.status}`)
  const { keys } = await r.json()
  const k = (keys || []).find((x) => x.use === 'enc' && x.kty === 'EC')
  if (!k) throw new Error('client JWKS has no EC enc key')
  return { key: await jose.importJWK({ kty: k.kty, crv: k.crv, x: k.x, y: k.y }, 'ECDH-ES+A256KW'), kid: k.kid, alg: k.alg || 'ECDH-ES+A256KW' }
}

const now = () => Math.floor(Date.now() / 1000)
const b64u = (b) => Buffer.from(b).toString('base64url')

function claimsFor (par) {
  const it = scenario.id_token || {}
  const c = {
    iss: ISSUER,
    aud: CLIENT_ID,
    sub: '2f1b7a64-5b4a-4a52-9d0f-9a375c9e2f3c',
    sub_type: 'user',
    sub_attributes: { account_type: 'standard', identity_number: 'S9812379B', identity_coi: 'SG', name: 'HOSTILE SINGPASS PERSONA' },
    iat: now(),
    exp: now() + 600,
    nonce: par.nonce,
    acr: 'urn:singpass:authentication:loa:2',
    amr: ['pwd'],
  }
  Object.assign(c, it.claims_set || {})
  for (const [k, off] of Object.entries(it.claims_relative || {})) c[k] = now() + off
  for (const k of it.claims_remove || []) delete c[k]
  if (it.padding_bytes) c.padding = 'x'.repeat(Math.min(it.padding_bytes, 16 << 20))
  return c
}

async function signIdToken (claims) {
  const it = scenario.id_token || {}
  const mode = it.sign || 'es256'
  const header = { alg: 'ES256', typ: 'JWT', kid: KID, ...(it.header_set || {}) }
  const payload = JSON.stringify(claims)
  const sign = (hdr, key) => new jose.CompactSign(Buffer.from(payload)).setProtectedHeader(hdr).sign(key)
  switch (mode) {
    case 'es256': return sign(header, sigKey.privateKey)
    case 'none': return `${b64u(JSON.stringify({ ...header, alg: 'none' }))}.${b64u(payload)}.`
    case 'hs256_pubkey': {
      // HMAC keyed with Singpass's public key (PEM), the classic alg confusion.
      const h = b64u(JSON.stringify({ ...header, alg: 'HS256' }))
      const p = b64u(payload)
      const mac = crypto.createHmac('sha256', sigKey.publicKey.export({ format: 'pem', type: 'spki' })).update(`${h}.${p}`).digest()
      return `${h}.${p}.${b64u(mac)}`
    }
    case 'foreign_same_kid': return sign(header, foreignKey.privateKey)
    case 'foreign_new_kid': return sign({ ...header, kid: 'hostile-unknown-kid' }, foreignKey.privateKey)
    case 'client_key': {
      if (!clientSigningKey) throw new Error('CLIENT_SIGNING_KEY is not set')
      const r = await fetch(CLIENT_JWKS_URI)
      const sig = ((await r.json()).keys || []).find((k) => k.use === 'sig')
      return sign({ ...header, kid: sig ? sig.kid : 'client' }, clientSigningKey)
    }
    default: throw new Error(`unknown id_token.sign ${mode}`)
  }
}

async function encryptIdToken (jws) {
  const mode = (scenario.id_token || {}).jwe || 'normal'
  if (mode === 'plain_jws') return jws
  const ck = await clientEncKey()
  const enc = (scenario.id_token || {}).enc || 'A256CBC-HS512'
  if (mode === 'normal' || mode === 'oversized') {
    return new jose.CompactEncrypt(Buffer.from(jws)).setProtectedHeader({ alg: ck.alg, enc, kid: ck.kid, cty: 'JWT' }).encrypt(ck.key)
  }
  // An epk the RP must refuse before any key agreement: a point off P-256
  // (invalid-curve attack), or a point on another curve.
  let epk
  if (mode === 'epk_invalid_curve') {
    const p = ec().publicKey.export({ format: 'jwk' })
    const y = Buffer.from(p.y, 'base64url')
    y[31] ^= 1
    epk = { kty: 'EC', crv: 'P-256', x: p.x, y: b64u(y) }
  } else if (mode === 'epk_p384') {
    const p = ec('P-384').publicKey.export({ format: 'jwk' })
    epk = { kty: 'EC', crv: 'P-384', x: p.x, y: p.y }
  } else {
    throw new Error(`unknown id_token.jwe ${mode}`)
  }
  const hdr = b64u(JSON.stringify({ alg: ck.alg, enc, kid: ck.kid, cty: 'JWT', epk }))
  return [hdr, b64u(crypto.randomBytes(72)), b64u(crypto.randomBytes(16)), b64u(crypto.randomBytes(Buffer.byteLength(jws) + 16 - (Buffer.byteLength(jws) % 16))), b64u(crypto.randomBytes(32))].join('.')
}

// ---- endpoints -----------------------------------------------------------------

async function par (req, res) {
  counters.par++
  const f = await readForm(req)
  if (!req.headers.dpop && !f.get('dpop_jkt')) violation('par', 'no_dpop', 'neither DPoP nor dpop_jkt')
  if (f.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' || !f.get('client_assertion')) violation('par', 'client_assertion', 'missing')
  if (f.get('client_id') !== CLIENT_ID) violation('par', 'client_id', f.get('client_id'))
  checkClientAuth('par', req, f)
  const s = scenario.par || {}
  if (s.transient > 0) {
    s.transient--
    return send(res, 503, { error: 'temporarily_unavailable' })
  }
  if (s.status && s.status !== 201) return send(res, s.status, s.body_set || { error: 'server_error' })
  const requestUri = `urn:ietf:params:oauth:request_uri:${b64u(crypto.randomBytes(24))}`
  pars.set(requestUri, Object.fromEntries(f))
  const body = { request_uri: requestUri, expires_in: 60, ...(s.body_set || {}) }
  if (s.omit_request_uri) delete body.request_uri
  send(res, 201, body)
}

function authorize (req, res, url) {
  counters.authorize++
  const p = pars.get(url.searchParams.get('request_uri') || '')
  if (!p || url.searchParams.get('client_id') !== CLIENT_ID) return send(res, 400, 'unknown request_uri or client_id\n')
  const back = new URL(p.redirect_uri)
  const a = scenario.authorize || {}
  if (a.error) {
    back.searchParams.set('error', a.error)
    back.searchParams.set('error_description', 'hostile <b>error</b> description')
  } else {
    const code = b64u(crypto.randomBytes(24))
    codes.set(code, p)
    back.searchParams.set('code', code)
  }
  back.searchParams.set('state', p.state || '')
  back.searchParams.set('iss', a.iss || ISSUER) // a.iss: a mix-up (RFC 9207)
  res.writeHead(302, { location: back.href })
  res.end()
}

async function token (req, res) {
  counters.token++
  const f = await readForm(req)
  if (!req.headers.dpop) violation('token', 'no_dpop', 'no DPoP header')
  if (f.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' || !f.get('client_assertion')) violation('token', 'client_assertion', 'missing')
  checkClientAuth('token', req, f)
  const t0 = scenario.token || {}
  if (t0.transient > 0) {
    t0.transient--
    return send(res, 503, { error: 'server_error' })
  }
  const p = codes.get(f.get('code') || '')
  if (!p) return send(res, 400, { error: 'invalid_grant' })
  const t = scenario.token || {}
  const body = { access_token: b64u(crypto.randomBytes(32)), token_type: 'DPoP', expires_in: 1800, id_token: await encryptIdToken(await signIdToken(claimsFor(p))) }
  Object.assign(body, t.body_set || {})
  for (const k of t.body_remove || []) delete body[k]
  send(res, t.status || 200, body)
}

async function control (req, res, url) {
  if (url.pathname === '/__control/scenario' && req.method === 'POST') {
    const chunks = []
    for await (const c of req) chunks.push(c)
    let s
    try {
      s = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}')
    } catch (e) {
      return send(res, 400, { error: `bad JSON: ${e.message}` })
    }
    const unknown = Object.keys(s).filter((k) => !SECTIONS.has(k))
    if (unknown.length) return send(res, 400, { error: `unknown sections: ${unknown.join(', ')}` })
    scenario = s
    return send(res, 200, { scenario })
  }
  if (url.pathname === '/__control/reset' && req.method === 'POST') {
    scenario = {}
    counters = { discovery: 0, jwks: 0, par: 0, authorize: 0, token: 0 }
    violations.length = 0
    return send(res, 200, { ok: true })
  }
  if (url.pathname === '/__control/log' && req.method === 'GET') return send(res, 200, { counters, violations, scenario })
  send(res, 404, { error: 'unknown control request' })
}

async function route (req, res) {
  const url = new URL(req.url, 'http://x')
  if (url.pathname.startsWith('/__control/')) return control(req, res, url)
  const p = url.pathname.startsWith(`${BASE}/`) ? url.pathname.slice(BASE.length) : ''
  if (p === '/.well-known/openid-configuration' && req.method === 'GET') {
    counters.discovery++
    return send(res, 200, discovery())
  }
  if (p === '/.well-known/keys' && req.method === 'GET') {
    counters.jwks++
    return send(res, 200, jwks())
  }
  if (p === '/par' && req.method === 'POST') return par(req, res)
  if (p === '/auth' && req.method === 'GET') return authorize(req, res, url)
  if (p === '/token' && req.method === 'POST') return token(req, res)
  send(res, 404, { error: 'not_found' })
}

function handler (req, res) {
  const started = Date.now()
  const path = req.url.split('?')[0]
  res.on('finish', () => {
    if (!path.startsWith('/__control/')) console.log(`hostile-singpass: ${req.method} ${path} ${res.statusCode} ${Date.now() - started}ms`)
  })
  route(req, res).catch((e) => {
    console.log(`hostile-singpass: ${req.method} ${path} failed: ${e.message}`)
    if (!res.headersSent) send(res, 500, { error: 'server_error' })
    else res.end()
  })
}

const servers = listenLoopback(handler, PORT, () => {
  console.log(`hostile-singpass: issuer ${ISSUER} on ${servers.length} loopback address(es); client ${CLIENT_ID}; client JWKS ${CLIENT_JWKS_URI}`)
}, (msg) => {
  console.error(`hostile-singpass: ${msg}`)
  process.exit(2)
})
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    for (const s of servers) s.close()
    process.exit(0)
  })
}
