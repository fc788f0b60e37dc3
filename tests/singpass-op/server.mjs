#!/usr/bin/env node
// A local Singpass (FAPI 2.0 Login + Myinfo v5) for sgid-fcgi's tests and
// `make run PROVIDER=singpass`: oidc-provider, a certified OpenID Provider,
// configured as Singpass documents its FAPI profile (PAR required, DPoP-bound
// tokens, private_key_jwt ES256, ID tokens and userinfo encrypted to the
// client with ECDH-ES, Singpass-shaped claims). README.md beside this file
// lists every variable, what differs from Singpass, and how to log in.
//
// Loopback only (127.0.0.1 and [::1]); the issuer is http://HOST:PORT/fapi.
'use strict'

import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import Provider from 'oidc-provider'

const require = createRequire(import.meta.url)
const { listenLoopback } = require('../loopback-listen.cjs')
const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, '../..')

function die (msg) {
  console.error(`singpass-op: ${msg}`)
  process.exit(2)
}
const env = (k, d) => (process.env[k] === undefined || process.env[k] === '' ? d : process.env[k])
const flag = (k) => /^(1|true|yes|on)$/i.test(env(k, ''))

const port = Number(env('SINGPASS_OP_PORT', '5158'))
if (!Number.isInteger(port) || port < 1 || port > 65535) die('SINGPASS_OP_PORT is not a port number')
const issuer = env('SINGPASS_OP_ISSUER', `http://127.0.0.1:${port}/fapi`)
const issuerUrl = new URL(issuer)
if (!['127.0.0.1', '[::1]', 'localhost'].includes(issuerUrl.hostname)) die('SINGPASS_OP_ISSUER must be on loopback')
const base = issuerUrl.pathname.replace(/\/$/, '') // "/fapi"
const CLIENT_ID = env('SINGPASS_OP_CLIENT_ID', 'sgidFcgiSingpassTestClient000001')
const redirectUris = env('SINGPASS_OP_REDIRECT_URIS', 'http://localhost:5001/api/redirect').split(',').map((s) => s.trim()).filter(Boolean)
const idTokenEnc = env('SINGPASS_OP_ID_TOKEN_ENC', 'A256CBC-HS512')
if (!['A256CBC-HS512', 'A256GCM'].includes(idTokenEnc)) die('SINGPASS_OP_ID_TOKEN_ENC must be A256CBC-HS512 or A256GCM')
const encAlg = env('SINGPASS_OP_ENC_ALG', 'ECDH-ES+A256KW')
if (!/^ECDH-ES\+A(128|192|256)KW$/.test(encAlg)) die('SINGPASS_OP_ENC_ALG must be ECDH-ES+A128KW, +A192KW or +A256KW')
const fractionalIat = flag('SINGPASS_OP_FRACTIONAL_IAT')
const dpopNonce = flag('SINGPASS_OP_DPOP_NONCE')
let delayMs = Number(env('SINGPASS_OP_DELAY_MS', '0'))
if (!Number.isInteger(delayMs) || delayMs < 0 || delayMs > 60000) die('SINGPASS_OP_DELAY_MS must be 0..60000')

// Two personas: the default one (a Singapore account) and a foreign
// account (account_type "foreign", identity_coi "MY", no mobile number,
// as Singpass gives foreign users none), for tests whose rules tell
// Singpass users apart. POST /persona?name=foreign|default picks who the
// next logins are.
const personas = {
  default: {
    sub: env('SINGPASS_OP_SUB', '5b4a9a37-5c9e-4a52-9d0f-2f3c9e1b7a64'),
    identity_number: env('SINGPASS_OP_NRIC', 'S9812379B'),
    name: env('SINGPASS_OP_NAME', 'LIM YONG XIANG'),
    account_type: env('SINGPASS_OP_ACCOUNT_TYPE', 'standard'),
    identity_coi: 'SG',
    email: env('SINGPASS_OP_EMAIL', 'lim.yong.xiang@example.test'),
    mobileno: env('SINGPASS_OP_MOBILENO', '81234567'),
  },
  foreign: {
    sub: '0d6f3b2e-8a41-4c7d-9e55-6b1a2c3d4e5f',
    identity_number: 'A51234567',
    name: 'NUR AISYAH BINTI RAHMAN',
    account_type: 'foreign',
    identity_coi: 'MY',
    email: 'nur.aisyah@example.test',
  },
}
let persona = personas.default
// SINGPASS_OP_USERS=N (make bench): logins take turns over N users, the
// default persona's attributes under N subs. sgid-fcgi keeps at most
// SESSION_MAX_PER_USER sessions per user, so hundreds of browsers logging
// in one sub at once would end each other's sessions.
const users = Number(env('SINGPASS_OP_USERS', '1'))
if (!Number.isInteger(users) || users < 1 || users > 100000) die('SINGPASS_OP_USERS must be 1..100000')
const userSub = (i) => `${persona.sub.slice(0, 24)}${String(i).padStart(12, '0')}`
let nextUser = 0
const personaBySub = (sub) => {
  const p = Object.values(personas).find((q) => q.sub === sub)
  if (p || users === 1) return p
  const m = /^(.{24})(\d{12})$/.exec(sub)
  return m && Number(m[2]) < users && m[1] === personas.default.sub.slice(0, 24) ? { ...personas.default, sub } : undefined
}

// The client's public keys: fetched from its JWKS URL (the RP's GET
// /api/jwks) on demand, as Singpass does, or read from a JWKS file.
function clientKeys () {
  const file = env('SINGPASS_OP_CLIENT_JWKS_FILE', '')
  if (file) {
    let jwks
    try {
      jwks = JSON.parse(fs.readFileSync(path.resolve(file), 'utf8'))
    } catch (e) {
      die(`SINGPASS_OP_CLIENT_JWKS_FILE: ${e.message}`)
    }
    if (!Array.isArray(jwks.keys) || jwks.keys.some((k) => k.d)) die('SINGPASS_OP_CLIENT_JWKS_FILE must be a public JWKS ({"keys":[...]}, no "d")')
    return { jwks }
  }
  return { jwks_uri: env('SINGPASS_OP_CLIENT_JWKS_URI', 'http://localhost:5001/api/jwks') }
}

function readJwk (file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch (e) {
    die(`${file}: ${e.message}`)
  }
}
// Singpass's own keys (TEST keys, tests/vectors/singpass/op/): ID tokens and
// userinfo are signed with the sig key; the enc key is published only, as
// Singpass's JWKS lists one too (a client must pick the sig key).
const opKeyDir = env('SINGPASS_OP_KEY_DIR', path.join(root, 'tests/vectors/singpass/op'))
const opKeys = [readJwk(path.join(opKeyDir, 'op-signing-key.jwk.json')), readJwk(path.join(opKeyDir, 'op-encryption-key.jwk.json'))]

const loopbackHosts = new Set(['127.0.0.1', 'localhost', '[::1]', '::1'])
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// Myinfo v5 userinfo's person_info, per scope (only scopes we know).
function personInfo (persona, scopes) {
  const item = (value) => ({ lastupdated: '2026-01-01', source: '1', classification: 'C', value })
  const out = {}
  if (scopes.has('uinfin')) out.uinfin = item(persona.identity_number)
  if (scopes.has('name')) out.name = item(persona.name)
  if (scopes.has('email')) out.email = item(persona.email)
  if (scopes.has('mobileno') && persona.mobileno) out.mobileno = { prefix: { value: '+' }, areacode: { value: '65' }, nbr: { value: persona.mobileno }, source: '1', classification: 'C', lastupdated: '2026-01-01' }
  return out
}

// sub_attributes as Singpass fills it, from the scopes granted.
function subAttributes (persona, scopes) {
  const out = {}
  if (scopes.has('user.identity')) {
    out.account_type = persona.account_type
    out.identity_number = persona.identity_number
    out.identity_coi = persona.identity_coi
  }
  if (scopes.has('name')) out.name = persona.name
  if (scopes.has('email')) out.email = persona.email
  if (scopes.has('mobileno') && persona.mobileno) out.mobileno = persona.mobileno
  return out
}

const ACRS = ['urn:singpass:authentication:loa:1', 'urn:singpass:authentication:loa:2', 'urn:singpass:authentication:loa:3']

// oidc-provider's own in-memory store is an LRU of 1000 entries, and a
// login makes about ten (PAR, interaction, session, grant, code, tokens,
// replay records of every jti): with a few hundred browsers at once (make
// bench) the entries of logins in flight were evicted, and their token
// calls failed with invalid_grant. This one drops an entry when it expires
// (or, past STORE_MAX entries, the oldest first).
const STORE_MAX = 500000
const store = new Map() // key -> { value, exp (ms) }
function storePut (key, value, expiresIn) {
  const old = store.get(key)
  store.delete(key)
  const exp = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity
  store.set(key, { value, exp: key.startsWith('grant:') && old ? Math.max(old.exp, exp) : exp })
  if (store.size > STORE_MAX) {
    const now = Date.now()
    for (const [k, e] of store) if (e.exp <= now) store.delete(k)
    for (const k of store.keys()) {
      if (store.size <= STORE_MAX) break
      store.delete(k)
    }
  }
}
function storeGet (key) {
  const e = store.get(key)
  if (e && e.exp <= Date.now()) store.delete(key)
  return e && e.exp > Date.now() ? e.value : undefined
}
// the models a replayed code revokes by their grant (oidc-provider's list)
const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest'])
class StandInAdapter {
  constructor (model) { this.model = model }
  key (id) { return `${this.model}:${id}` }
  async upsert (id, payload, expiresIn) {
    storePut(this.key(id), payload, expiresIn)
    if (this.model === 'Session' && payload.uid) storePut(`sessionUid:${payload.uid}`, id, expiresIn)
    if (payload.grantId && GRANTABLE.has(this.model)) storePut(`grant:${payload.grantId}`, [...(storeGet(`grant:${payload.grantId}`) || []), this.key(id)], expiresIn)
  }
  async find (id) { return storeGet(this.key(id)) }
  async findByUid (uid) {
    const id = storeGet(`sessionUid:${uid}`)
    return id ? this.find(id) : undefined
  }
  async findByUserCode () { return undefined }
  async consume (id) {
    const p = storeGet(this.key(id))
    if (p) p.consumed = Math.floor(Date.now() / 1000)
  }
  async destroy (id) { store.delete(this.key(id)) }
  async revokeByGrantId (grantId) {
    for (const k of storeGet(`grant:${grantId}`) || []) store.delete(k)
    store.delete(`grant:${grantId}`)
  }
}

const configuration = {
  adapter: StandInAdapter,
  clients: [{
    client_id: CLIENT_ID,
    redirect_uris: redirectUris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'ES256',
    id_token_signed_response_alg: 'ES256',
    id_token_encrypted_response_alg: encAlg,
    id_token_encrypted_response_enc: idTokenEnc,
    userinfo_signed_response_alg: 'ES256',
    userinfo_encrypted_response_alg: encAlg,
    userinfo_encrypted_response_enc: 'A256GCM',
    dpop_bound_access_tokens: true,
    require_pushed_authorization_requests: true,
    ...clientKeys(),
  }],
  jwks: { keys: opKeys },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  features: {
    fapi: { enabled: true, profile: '2.0' },
    pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: true },
    dPoP: {
      enabled: true,
      nonceSecret: crypto.randomBytes(32),
      requireNonce: () => dpopNonce,
    },
    encryption: { enabled: true },
    jwtUserinfo: { enabled: true },
    devInteractions: { enabled: false },
    userinfo: { enabled: true },
  },
  clientAuthMethods: ['private_key_jwt'],
  enabledJWA: {
    clientAuthSigningAlgValues: ['ES256'],
    idTokenSigningAlgValues: ['ES256'],
    userinfoSigningAlgValues: ['ES256'],
    dPoPSigningAlgValues: ['ES256'],
    idTokenEncryptionAlgValues: ['ECDH-ES+A256KW', 'ECDH-ES+A192KW', 'ECDH-ES+A128KW'],
    idTokenEncryptionEncValues: ['A256CBC-HS512', 'A256GCM'],
    userinfoEncryptionAlgValues: ['ECDH-ES+A256KW', 'ECDH-ES+A192KW', 'ECDH-ES+A128KW'],
    userinfoEncryptionEncValues: ['A256GCM', 'A256CBC-HS512'],
  },
  routes: {
    authorization: '/auth',
    pushed_authorization_request: '/par',
    token: '/token',
    userinfo: '/userinfo',
    jwks: '/.well-known/keys',
  },
  responseTypes: ['code'],
  acrValues: ACRS,
  scopes: ['openid', 'user.identity', 'name', 'email', 'mobileno', 'uinfin'],
  claims: {
    openid: ['sub', 'sub_type', 'acr', 'amr', ...(fractionalIat ? ['iat'] : [])],
    'user.identity': ['sub_attributes'],
    name: ['sub_attributes', 'person_info'],
    email: ['sub_attributes', 'person_info'],
    mobileno: ['sub_attributes', 'person_info'],
    uinfin: ['person_info'],
  },
  conformIdTokenClaims: false,
  extraParams: ['authentication_context_type', 'authentication_context_message', 'redirect_uri_https_type', 'app_launch_url'],
  ttl: { PushedAuthorizationRequest: 60, AuthorizationCode: 60, AccessToken: 1800, IdToken: 600, Interaction: 600, Session: 600, Grant: 600 },
  interactions: { url: (ctx, interaction) => `${base}/interaction/${interaction.uid}` },
  async findAccount (ctx, sub) {
    const persona = personaBySub(sub)
    if (!persona) return undefined
    return {
      accountId: sub,
      async claims (use, scope) {
        const scopes = new Set(String(scope || '').split(' '))
        const out = { sub }
        if (use === 'id_token') {
          out.sub_type = 'user'
          out.sub_attributes = subAttributes(persona, scopes)
          // MockPass's deviation: iat = Date.now()/1000, fractional.
          if (fractionalIat) out.iat = Date.now() / 1000 + 0.123
        } else {
          out.person_info = personInfo(persona, scopes)
        }
        return out
      },
    }
  },
  // The client's jwks_uri is on loopback, which oidc-provider's SSRF guard
  // refuses; only loopback is allowed here.
  fetch: (url, options) => {
    const { dispatcher, ...rest } = options || {}
    if (!loopbackHosts.has(new URL(url).hostname)) throw new Error('singpass-op fetches only loopback URLs')
    return fetch(url, rest)
  },
  renderError (ctx, out) {
    ctx.type = 'text/plain; charset=utf-8'
    ctx.body = `singpass-op error: ${out.error}${out.error_description ? ` (${out.error_description})` : ''}\n`
  },
}

const provider = new Provider(issuer, configuration)
provider.proxy = false

const counts = { par: 0, auth: 0, token: 0, userinfo: 0, keys: 0, discovery: 0, interaction: 0 }

// Singpass refuses a PAR with neither a DPoP proof nor dpop_jkt
// (invalid_request); oidc-provider accepts it and fails at the token
// endpoint. Make it Singpass's answer. Also: the delay for `make bench`.
provider.use(async (ctx, next) => {
  const p = ctx.path
  const slow = p === '/par' || p === '/token' || p === '/userinfo'
  if (slow && delayMs > 0) await sleep(delayMs)
  await next()
  if (p === '/par' && ctx.method === 'POST' && ctx.status === 201 && !ctx.get('dpop') && !ctx.oidc?.params?.dpop_jkt) {
    ctx.status = 400
    ctx.body = { error: 'invalid_request', error_description: 'DPoP proof or dpop_jkt is required' }
  }
})

// No login UI: the interaction logs the persona in at once (acr: the first
// requested acr_values, else loa:2) and grants every requested scope.
async function interaction (req, res) {
  const details = await provider.interactionDetails(req, res)
  const { prompt, params } = details
  const result = {}
  const accountId = users > 1 && persona === personas.default ? userSub(nextUser++ % users) : persona.sub
  if (prompt.name === 'login') {
    const asked = String(params.acr_values || '').split(' ').filter((a) => ACRS.includes(a))
    result.login = { accountId, acr: asked[0] || ACRS[1], amr: ['pwd', 'otp-sms'] }
  }
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: details.session?.accountId || accountId, clientId: params.client_id })
  grant.addOIDCScope(String(params.scope || 'openid'))
  result.consent = { grantId: await grant.save() }
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false })
}

const callback = provider.callback()
function handler (req, res) {
  const url = new URL(req.url, 'http://x')
  const started = Date.now()
  res.on('finish', () => {
    // Path only: queries hold codes and request_uris.
    if (!quiet) console.warn(`singpass-op: ${req.method} ${url.pathname} ${res.statusCode} ${Date.now() - started}ms`)
  })
  if (url.pathname === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' })
    return res.end('ok\n')
  }
  if (url.pathname === '/counts' && req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/json' })
    return res.end(JSON.stringify(counts))
  }
  // POST /delay?ms=N: every PAR, token and userinfo answer waits N ms.
  // POST /persona?name=default|foreign: who the next logins are.
  if (url.pathname === '/persona' && req.method === 'POST') {
    const name = url.searchParams.get('name') || ''
    if (!Object.hasOwn(personas, name)) {
      res.writeHead(400)
      return res.end()
    }
    persona = personas[name]
    res.writeHead(204)
    return res.end()
  }
  if (url.pathname === '/delay' && req.method === 'POST') {
    const ms = Number(url.searchParams.get('ms'))
    if (!Number.isInteger(ms) || ms < 0 || ms > 60000) {
      res.writeHead(400)
      return res.end()
    }
    delayMs = ms
    res.writeHead(204)
    return res.end()
  }
  if (url.pathname !== base && !url.pathname.startsWith(`${base}/`)) {
    res.writeHead(404, { 'content-type': 'text/plain' })
    return res.end('not found\n')
  }
  const sub = url.pathname.slice(base.length) || '/'
  const name = sub === '/.well-known/openid-configuration' ? 'discovery' : sub.split('/')[1].replace('.well-known', 'keys')
  if (name in counts) counts[name]++
  if (sub.startsWith('/interaction/') && req.method === 'GET') {
    interaction(req, res).catch((e) => {
      console.error(`singpass-op: interaction failed: ${e.message}`)
      if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain' })
      res.end('interaction failed\n')
    })
    return
  }
  req.originalUrl = req.url
  req.url = req.url.slice(base.length) || '/'
  return callback(req, res)
}
const quiet = flag('SINGPASS_OP_QUIET')

provider.on('server_error', (ctx, err) => console.error(`singpass-op: server_error: ${err.stack || err}`))
for (const ev of ['pushed_authorization_request.error', 'grant.error', 'authorization.error', 'userinfo.error', 'interaction.error']) {
  provider.on(ev, (ctx, err) => console.warn(`singpass-op: ${ev}: ${err.error || err.name}${err.error_description ? ` (${err.error_description})` : ''}`))
}

const servers = listenLoopback(handler, port, () => {
  console.warn(`singpass-op: issuer ${issuer} on ${servers.length} loopback address(es); client ${CLIENT_ID}; ` +
    `ID token ${encAlg}/${idTokenEnc}${fractionalIat ? ', fractional iat' : ''}${dpopNonce ? ', DPoP nonce required' : ''}; ` +
    `persona ${persona.sub} "${persona.name}"${users > 1 ? `, ${users} users` : ''}`)
}, die)

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    for (const s of servers) s.close()
    process.exit(0)
  })
}
