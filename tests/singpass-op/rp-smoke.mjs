#!/usr/bin/env node
// The Singpass stand-in proved on its own, with no sgid-fcgi: a small FAPI
// 2.0 relying party (jose + node:crypto) runs the whole Singpass login
// against server.mjs as Singpass documents it -- discovery, PAR with a
// client assertion and a DPoP proof, authorize and the no-UI login, token
// with a new assertion and proof (one retry on use_dpop_nonce), the nested
// JWE -> JWS ID token decrypted and verified, Myinfo userinfo with the
// DPoP-bound token (ath) -- in each of the stand-in's modes, and checks that
// the stand-in refuses what Singpass refuses (so a test that passes through
// it means something): PAR with no DPoP, a replayed code, a token call with
// no DPoP proof, a client assertion for another audience, a proof without
// the nonce when one is required.
//
// It starts the stand-in itself (one per mode, on SMOKE_PORT, default 5159)
// and serves the client's JWKS on an ephemeral loopback port (the stand-in
// fetches it, as Singpass fetches the RP's jwks_uri). Prints "ok - ..." /
// "not ok - ..." and ends with "singpass-op smoke: N passed, N failed".
import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import * as jose from 'jose'

const here = path.dirname(fileURLToPath(import.meta.url))
const keyDir = path.resolve(here, '../vectors/singpass/op')
const PORT = Number(process.env.SMOKE_PORT || 5159)
const ISSUER = `http://127.0.0.1:${PORT}/fapi`
const CLIENT_ID = 'sgidFcgiSingpassTestClient000001'
const REDIRECT_URI = 'http://localhost:5001/api/redirect'
const ACR_LOA2 = 'urn:singpass:authentication:loa:2'

let passed = 0
let failed = 0
function check (name, ok, detail) {
  if (ok) {
    passed++
    console.log(`ok - ${name}`)
  } else {
    failed++
    console.log(`not ok - ${name}`)
    if (detail !== undefined) console.log(`#   ${String(detail).replace(/\n/g, '\n#   ')}`)
  }
}

// ---- the client's keys and its JWKS ------------------------------------------

const sigPriv = crypto.createPrivateKey(fs.readFileSync(path.join(keyDir, 'rp-signing-key.pem')))
const encPriv = crypto.createPrivateKey(fs.readFileSync(path.join(keyDir, 'rp-encryption-key.pem')))
const pub = (k) => crypto.createPublicKey(k).export({ format: 'jwk' })
const SIG_KID = 'sgid-fcgi-test-rp-sig-1'
const clientJwks = {
  keys: [
    { ...pub(sigPriv), kid: SIG_KID, use: 'sig', alg: 'ES256' },
    { ...pub(encPriv), kid: 'sgid-fcgi-test-rp-enc-1', use: 'enc', alg: 'ECDH-ES+A256KW' },
  ],
}
const jwksServer = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(JSON.stringify(clientJwks))
})
await new Promise((resolve) => jwksServer.listen(0, '127.0.0.1', resolve))
const JWKS_URI = `http://127.0.0.1:${jwksServer.address().port}/api/jwks`

// ---- JOSE of the client --------------------------------------------------------

const b64u = (buf) => Buffer.from(buf).toString('base64url')
const rand = () => b64u(crypto.randomBytes(32))
const now = () => Math.floor(Date.now() / 1000)

function assertion (aud = ISSUER) {
  return new jose.SignJWT({ jti: crypto.randomUUID() })
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: SIG_KID })
    .setIssuer(CLIENT_ID).setSubject(CLIENT_ID).setAudience(aud)
    .setIssuedAt(now()).setExpirationTime(now() + 60)
    .sign(sigPriv)
}

async function newDpopKey () {
  const { privateKey, publicKey } = await jose.generateKeyPair('ES256', { extractable: true })
  const { kty, crv, x, y } = await jose.exportJWK(publicKey)
  return { privateKey, jwk: { kty, crv, x, y } }
}

function dpopProof (key, htm, htu, { nonce, accessToken } = {}) {
  const claims = { jti: crypto.randomUUID(), htm, htu, iat: now(), exp: now() + 60 }
  if (nonce) claims.nonce = nonce
  if (accessToken) claims.ath = b64u(crypto.createHash('sha256').update(accessToken).digest())
  return new jose.SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk }).sign(key.privateKey)
}

// POST a form; with a DPoP key, a proof (and one retry on use_dpop_nonce,
// as Singpass's RP must do). Returns {status, headers, json, retried}.
async function postForm (url, form, dpopKey, nonceBox) {
  let retried = false
  for (;;) {
    const headers = { 'content-type': 'application/x-www-form-urlencoded' }
    if (dpopKey) headers.dpop = await dpopProof(dpopKey, 'POST', url, { nonce: nonceBox?.nonce })
    const body = new URLSearchParams({ ...form })
    if (form.client_assertion === true) body.set('client_assertion', await assertion())
    const res = await fetch(url, { method: 'POST', headers, body })
    const json = await res.json().catch(() => null)
    const nonce = res.headers.get('dpop-nonce')
    if (nonce && nonceBox) nonceBox.nonce = nonce
    if (res.status === 400 && json?.error === 'use_dpop_nonce' && !retried && dpopKey && nonceBox) {
      retried = true
      continue
    }
    return { status: res.status, headers: res.headers, json, retried }
  }
}

// GET following redirects by hand with a cookie jar, until one leaves the
// stand-in (the redirect to the RP's redirect_uri). Returns that URL.
async function browse (url) {
  const jar = new Map()
  for (let hops = 0; hops < 10; hops++) {
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ')
    const res = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} })
    for (const c of res.headers.getSetCookie()) {
      const [kv] = c.split(';')
      const i = kv.indexOf('=')
      jar.set(kv.slice(0, i), kv.slice(i + 1))
    }
    const loc = res.headers.get('location')
    if (!loc || res.status < 300 || res.status > 399) throw new Error(`authorize stopped at ${res.status}: ${(await res.text()).slice(0, 200)}`)
    const next = new URL(loc, url).href
    if (!next.startsWith(`http://127.0.0.1:${PORT}/`)) return next
    url = next
  }
  throw new Error('too many redirects')
}

// ---- the stand-in ------------------------------------------------------------

let op = null
async function startOp (modeEnv) {
  const env = {
    ...process.env,
    SINGPASS_OP_PORT: String(PORT),
    SINGPASS_OP_ISSUER: ISSUER,
    SINGPASS_OP_CLIENT_ID: CLIENT_ID,
    SINGPASS_OP_REDIRECT_URIS: REDIRECT_URI,
    SINGPASS_OP_CLIENT_JWKS_URI: JWKS_URI,
    ...modeEnv,
  }
  op = spawn(process.execPath, [path.join(here, 'server.mjs')], { env, stdio: ['ignore', 'inherit', 'pipe'] })
  let log = ''
  op.stderr.on('data', (d) => { log += d })
  op.log = () => log
  const deadline = Date.now() + 15000
  while (Date.now() < deadline) {
    if (op.exitCode !== null) throw new Error(`stand-in exited: ${log}`)
    try {
      const r = await fetch(`${ISSUER}/.well-known/openid-configuration`)
      if (r.ok) return await r.json()
    } catch { /* not yet */ }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`stand-in not ready after 15 s: ${log}`)
}
async function stopOp () {
  if (!op || op.exitCode !== null) return
  const gone = new Promise((resolve) => op.once('exit', resolve))
  op.kill('SIGTERM')
  await gone
}

// ---- one login ---------------------------------------------------------------

async function login (disc, tag, { scope = 'openid user.identity name', acr, myinfo = false, expectEnc, fractional = false, nonceMode = false } = {}) {
  const dpop = await newDpopKey()
  const nonceBox = {}
  const state = rand()
  const nonce = rand()
  const verifier = rand()
  const challenge = b64u(crypto.createHash('sha256').update(verifier).digest())
  const par = {
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: REDIRECT_URI,
    scope,
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: true,
  }
  if (!myinfo) par.authentication_context_type = 'APP_AUTHENTICATION_DEFAULT'
  if (acr) par.acr_values = acr
  const p = await postForm(disc.pushed_authorization_request_endpoint, par, dpop, nonceBox)
  check(`${tag}: PAR 201 with a request_uri and expires_in 60`,
    p.status === 201 && /^urn:ietf:params:oauth:request_uri:/.test(p.json?.request_uri) && p.json?.expires_in === 60, JSON.stringify(p.json))
  if (nonceMode) check(`${tag}: PAR asked for a DPoP nonce once (use_dpop_nonce, retried)`, p.retried)
  const authUrl = `${disc.authorization_endpoint}?${new URLSearchParams({ client_id: CLIENT_ID, request_uri: p.json?.request_uri || '' })}`
  const back = new URL(await browse(authUrl))
  check(`${tag}: authorize logs the persona in with no UI and returns code, our state and iss`,
    `${back.origin}${back.pathname}` === REDIRECT_URI && back.searchParams.get('code') && back.searchParams.get('state') === state &&
    back.searchParams.get('iss') === ISSUER, back.href.replace(/code=[^&]*/, 'code=...'))
  const code = back.searchParams.get('code')
  const tokenForm = {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT_URI,
    code_verifier: verifier,
    client_id: CLIENT_ID,
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: true,
  }
  const t = await postForm(disc.token_endpoint, tokenForm, dpop, nonceBox)
  check(`${tag}: token 200, token_type DPoP, a JWE id_token`,
    t.status === 200 && t.json?.token_type === 'DPoP' && String(t.json?.id_token).split('.').length === 5, JSON.stringify(t.json))
  const hdr = jose.decodeProtectedHeader(t.json.id_token)
  check(`${tag}: ID token JWE is ECDH-ES+A256KW/${expectEnc} with kid, epk on P-256, cty JWT`,
    hdr.alg === 'ECDH-ES+A256KW' && hdr.enc === expectEnc && hdr.kid === 'sgid-fcgi-test-rp-enc-1' && hdr.epk?.crv === 'P-256' && hdr.cty === 'JWT', JSON.stringify(hdr))
  const { plaintext } = await jose.compactDecrypt(t.json.id_token, encPriv)
  const jws = new TextDecoder().decode(plaintext)
  const jwks = jose.createRemoteJWKSet(new URL(disc.jwks_uri))
  const { payload: c, protectedHeader: sh } = await jose.jwtVerify(jws, jwks, { issuer: ISSUER, audience: CLIENT_ID, algorithms: ['ES256'] })
  check(`${tag}: nested JWS ES256 verifies against the stand-in's JWKS (kid ${sh.kid})`, sh.alg === 'ES256' && sh.kid === 'sgid-fcgi-test-op-sig-1')
  check(`${tag}: claims: our nonce, sub a UUID, sub_type user, exp after iat`,
    c.nonce === nonce && /^[0-9a-f-]{36}$/.test(c.sub) && c.sub_type === 'user' && c.exp > c.iat, JSON.stringify(c))
  check(`${tag}: iat is ${fractional ? 'fractional (MockPass)' : 'whole seconds'}`, fractional ? !Number.isInteger(c.iat) : Number.isInteger(c.iat), c.iat)
  check(`${tag}: acr ${acr || ACR_LOA2}, amr an array`, c.acr === (acr || ACR_LOA2) && Array.isArray(c.amr), `${c.acr} ${c.amr}`)
  const sa = c.sub_attributes || {}
  if (scope.includes('user.identity')) {
    check(`${tag}: sub_attributes {account_type, identity_number, identity_coi, name}`,
      sa.account_type === 'standard' && sa.identity_number === 'S9812379B' && sa.identity_coi === 'SG' && sa.name === 'LIM YONG XIANG', JSON.stringify(sa))
  } else {
    check(`${tag}: sub_attributes follows the scopes (name only)`, JSON.stringify(sa) === '{"name":"LIM YONG XIANG"}', JSON.stringify(sa))
  }
  // (last: a replayed code revokes the tokens issued for it)
  const replay = async () => {
    const again = await postForm(disc.token_endpoint, tokenForm, dpop, nonceBox)
    check(`${tag}: the code replayed: 400 invalid_grant`, again.status === 400 && again.json?.error === 'invalid_grant', JSON.stringify(again.json))
  }
  if (!myinfo) return replay()
  // Myinfo v5: userinfo with the DPoP-bound access token.
  const at = t.json.access_token
  const getUserinfo = async (withAth) => {
    for (let tries = 0; ; tries++) {
      const res = await fetch(disc.userinfo_endpoint, {
        headers: { authorization: `DPoP ${at}`, dpop: await dpopProof(dpop, 'GET', disc.userinfo_endpoint, { nonce: nonceBox.nonce, accessToken: withAth ? at : undefined }) },
      })
      const n = res.headers.get('dpop-nonce')
      if (n) nonceBox.nonce = n
      if (res.status === 401 && /use_dpop_nonce/.test(res.headers.get('www-authenticate') || '') && tries === 0) continue
      return res
    }
  }
  const noAth = await getUserinfo(false)
  check(`${tag}: userinfo without ath: 401 invalid_dpop_proof`, noAth.status === 401 && /invalid_dpop_proof/.test(noAth.headers.get('www-authenticate') || ''), noAth.headers.get('www-authenticate'))
  const u = await getUserinfo(true)
  const body = await u.text()
  check(`${tag}: userinfo 200 application/jwt, a JWE (A256GCM)`,
    u.status === 200 && (u.headers.get('content-type') || '').startsWith('application/jwt') && body.split('.').length === 5 &&
    jose.decodeProtectedHeader(body).enc === 'A256GCM', `${u.status} ${body.slice(0, 200)}`)
  const inner = new TextDecoder().decode((await jose.compactDecrypt(body, encPriv)).plaintext)
  const { payload: ui } = await jose.jwtVerify(inner, jwks, { issuer: ISSUER, audience: CLIENT_ID, algorithms: ['ES256'] })
  check(`${tag}: userinfo JWS verifies; same sub; person_info.uinfin and name`,
    ui.sub === c.sub && ui.person_info?.uinfin?.value === 'S9812379B' && ui.person_info?.name?.value === 'LIM YONG XIANG', JSON.stringify(ui))
  await replay()
  const revoked = await getUserinfo(true)
  check(`${tag}: after the replay the access token is revoked: userinfo 401`, revoked.status === 401, revoked.status)
}

// ---- the modes ------------------------------------------------------------------

async function negatives (disc) {
  const dpop = await newDpopKey()
  const base = {
    response_type: 'code', client_id: CLIENT_ID, redirect_uri: REDIRECT_URI, scope: 'openid name', state: rand(), nonce: rand(),
    code_challenge: b64u(crypto.randomBytes(32)), code_challenge_method: 'S256', authentication_context_type: 'APP_AUTHENTICATION_DEFAULT',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: true,
  }
  let r = await postForm(disc.pushed_authorization_request_endpoint, base, null)
  check('refuses: PAR with neither a DPoP proof nor dpop_jkt: 400 invalid_request', r.status === 400 && r.json?.error === 'invalid_request', JSON.stringify(r.json))
  r = await postForm(disc.pushed_authorization_request_endpoint, { ...base, client_assertion: await assertion(disc.pushed_authorization_request_endpoint) }, dpop)
  check('refuses: a client assertion whose aud is the endpoint, not the issuer: 401 invalid_client', r.status === 401 && r.json?.error === 'invalid_client', JSON.stringify(r.json))
  r = await postForm(disc.pushed_authorization_request_endpoint, { ...base, code_challenge: undefined, code_challenge_method: undefined }, dpop)
  check('refuses: PAR without PKCE: 400', r.status === 400, JSON.stringify(r.json))
  const auth = await fetch(`${disc.authorization_endpoint}?${new URLSearchParams({ client_id: CLIENT_ID, response_type: 'code', scope: 'openid', redirect_uri: REDIRECT_URI })}`, { redirect: 'manual' })
  check('refuses: authorize without a pushed request (PAR required)', auth.status === 400 || /request_uri|pushed/i.test(auth.headers.get('location') || ''), auth.status)
  r = await postForm(disc.token_endpoint, { grant_type: 'authorization_code', code: 'bogus', redirect_uri: REDIRECT_URI, code_verifier: rand(), client_id: CLIENT_ID, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: true }, null)
  check('refuses: a token call with no DPoP proof: 400', r.status === 400, JSON.stringify(r.json))
}

const modes = [
  { tag: 'default', env: {}, opts: { expectEnc: 'A256CBC-HS512' } },
  { tag: 'myinfo', env: {}, opts: { expectEnc: 'A256CBC-HS512', scope: 'openid uinfin name', myinfo: true, acr: 'urn:singpass:authentication:loa:3' } },
  { tag: 'MockPass deviations (A256GCM, fractional iat)', env: { SINGPASS_OP_ID_TOKEN_ENC: 'A256GCM', SINGPASS_OP_FRACTIONAL_IAT: '1' }, opts: { expectEnc: 'A256GCM', fractional: true, scope: 'openid name' } },
  { tag: 'DPoP nonce required', env: { SINGPASS_OP_DPOP_NONCE: '1' }, opts: { expectEnc: 'A256CBC-HS512', nonceMode: true, myinfo: true, scope: 'openid uinfin name' } },
]

try {
  for (const m of modes) {
    let disc
    try {
      disc = await startOp(m.env)
    } catch (e) {
      check(`${m.tag}: the stand-in starts`, false, e.message)
      continue
    }
    check(`${m.tag}: discovery: issuer, PAR/auth/token/userinfo/keys, PAR required, DPoP ES256, ECDH-ES+A256KW`,
      disc.issuer === ISSUER && disc.pushed_authorization_request_endpoint === `${ISSUER}/par` && disc.authorization_endpoint === `${ISSUER}/auth` &&
      disc.token_endpoint === `${ISSUER}/token` && disc.userinfo_endpoint === `${ISSUER}/userinfo` && disc.jwks_uri === `${ISSUER}/.well-known/keys` &&
      disc.require_pushed_authorization_requests === true && disc.dpop_signing_alg_values_supported?.includes('ES256') &&
      disc.id_token_encryption_alg_values_supported?.includes('ECDH-ES+A256KW'), JSON.stringify(disc))
    try {
      await login(disc, m.tag, m.opts)
      if (m.tag === 'default') await negatives(disc)
    } catch (e) {
      check(`${m.tag}: login completes`, false, `${e.stack}\n${op.log()}`)
    }
    await stopOp()
  }
} finally {
  await stopOp()
  jwksServer.close()
}
console.log(`singpass-op smoke: ${passed} passed, ${failed} failed`)
process.exit(failed || !passed ? 1 : 0)
