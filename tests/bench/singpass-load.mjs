#!/usr/bin/env node
// Load generator of tests/bench/singpass.sh: CONNS virtual browsers for
// SECONDS, each looping one operation, with keep-alive connections and a
// cookie jar per browser (a Singpass login is five redirects across two
// hosts, which wrk's Lua cannot follow). Node's http only, no dependency.
//
//   node singpass-load.mjs MODE API SECONDS CONNS
//   MODE auth-url  GET API/api/auth-url?icecream=Vanilla (sgID: a sealed
//                  attempt; Singpass: one PAR round trip), 200 with a url
//        login     auth-url, the provider's authorize redirects until the
//                  one back to API/api/redirect, the callback (302 to
//                  /logged-in), then /api/userinfo (200): one complete login
//        health    GET API/api/health
// A 503 (over capacity) waits its Retry-After before that browser goes on.
// Hosts named *.localhost are reached on 127.0.0.1 with their Host header.
// Prints one JSON line: {mode, ops, ops_per_s, p50_ms, p99_ms, errors,
// statuses: {CODE: n}} (latency per operation: a whole login for login).
import http from 'node:http'

const [mode, api, secondsText, connsText] = process.argv.slice(2)
const seconds = Number(secondsText)
const conns = Number(connsText)
if (!['auth-url', 'login', 'health'].includes(mode) || !api || !(seconds > 0) || !(conns > 0)) {
  console.error('usage: singpass-load.mjs auth-url|login|health API SECONDS CONNS')
  process.exit(2)
}
const ORIGIN = process.env.BENCH_ORIGIN || 'http://localhost:5173'
const agent = new http.Agent({ keepAlive: true, maxSockets: conns * 2 })

function request (url, jar, headers = {}) {
  const u = new URL(url)
  const host = u.hostname.endsWith('.localhost') ? '127.0.0.1' : u.hostname
  const cookie = jar ? [...(jar.get(u.hostname) || new Map())].map(([k, v]) => `${k}=${v}`).join('; ') : ''
  return new Promise((resolve, reject) => {
    const req = http.request({
      host, port: u.port, path: u.pathname + u.search, method: 'GET', agent,
      headers: { host: u.host, ...(cookie ? { cookie } : {}), ...headers },
      timeout: 30000,
    }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => {
        if (jar) {
          const m = jar.get(u.hostname) || new Map()
          for (const c of res.headers['set-cookie'] || []) {
            const kv = c.split(';')[0]
            const i = kv.indexOf('=')
            if (/max-age=0/i.test(c)) m.delete(kv.slice(0, i))
            else m.set(kv.slice(0, i), kv.slice(i + 1))
          }
          jar.set(u.hostname, m)
        }
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') })
      })
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end()
  })
}

const statuses = {}
const note = (s) => { statuses[s] = (statuses[s] || 0) + 1 }

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
async function authUrl (jar) {
  const r = await request(`${api}/api/auth-url?icecream=Vanilla`, jar, { origin: ORIGIN })
  note(r.status)
  // Over capacity: a person tries again later, not at once (Retry-After).
  if (r.status === 503) await sleep(Math.min(10, Number(r.headers['retry-after']) || 1) * 1000)
  if (r.status !== 200) return null
  return JSON.parse(r.body).url
}

async function login () {
  const jar = new Map()
  let url = await authUrl(jar)
  if (!url) return false
  for (let hop = 0; hop < 8; hop++) {
    const r = await request(url, jar)
    if (r.status < 300 || r.status > 399 || !r.headers.location) { note(`authorize-${r.status}`); return false }
    url = new URL(r.headers.location, url).href
    if (url.startsWith(`${api}/api/redirect?`)) break
  }
  if (!url.startsWith(`${api}/api/redirect?`)) { note('authorize-loop'); return false }
  const cb = await request(url, jar)
  if (cb.status !== 302 || !/\/logged-in$/.test(cb.headers.location || '')) { note(`callback-${cb.status}`); return false }
  const ui = await request(`${api}/api/userinfo`, jar, { origin: ORIGIN })
  note(`userinfo-${ui.status}`)
  return ui.status === 200
}

async function health () {
  const r = await request(`${api}/api/health`, null)
  note(r.status)
  return r.status === 200
}

const op = { 'auth-url': async () => (await authUrl(null)) !== null, login, health }[mode]
const lat = []
let errors = 0
const end = Date.now() + seconds * 1000
async function browser () {
  while (Date.now() < end) {
    const t0 = performance.now()
    let ok = false
    try {
      ok = await op()
    } catch (e) {
      note(`error-${e.code || e.message}`)
    }
    if (ok) lat.push(performance.now() - t0)
    else errors++
  }
}
const t0 = performance.now()
await Promise.all(Array.from({ length: conns }, browser))
const secs = (performance.now() - t0) / 1000
lat.sort((a, b) => a - b)
const pct = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : 0)
console.log(JSON.stringify({
  mode, ops: lat.length, ops_per_s: +(lat.length / secs).toFixed(1), p50_ms: +pct(0.5).toFixed(1), p99_ms: +pct(0.99).toFixed(1), errors, seconds: +secs.toFixed(1), statuses,
}))
agent.destroy()
