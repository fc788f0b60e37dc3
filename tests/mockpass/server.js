#!/usr/bin/env node
// MockPass (sgID v2 emulator) for sgid-fcgi's demo and integration tests.
//
// Differences from `npx mockpass`:
//  - listens on loopback only, 127.0.0.1 and [::1] (the stock bin listens on
//    every interface);
//  - never reads a stray .env: MockPass calls dotenv on its cwd, so we chdir to
//    this directory (which must not hold a .env) before loading it;
//  - a handler that throws or rejects (e.g. userinfo with a bad or missing
//    bearer token) answers 500 instead of killing the process;
//  - MOCKPASS_NRIC is checked against the MyInfo personas, because the
//    default persona has no MyInfo data and any myinfo.* scope then crashes.
//
// Environment:
//   MOCKPASS_PORT             port (default 5156)
//   MOCKPASS_NRIC             persona used when no login page is shown
//                             (default S9812379B, "LIM YONG XIANG")
//   SHOW_LOGIN_PAGE           "true": persona picker page instead of an
//                             immediate redirect
//   SERVICE_PROVIDER_PUB_KEY  path to the client's SPKI public key
//                             (BEGIN PUBLIC KEY); userinfo is encrypted to it.
//                             A relative path is taken from the cwd at start.
'use strict'

const fs = require('fs')
const path = require('path')

const { listenLoopback } = require('../loopback-listen.cjs')
const DEFAULT_NRIC = 'S9812379B'

function die(msg) {
  console.error(`mockpass: ${msg}`)
  process.exit(2)
}

const portText = process.env.MOCKPASS_PORT || '5156'
const port = Number(portText)
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  die(`MOCKPASS_PORT is not a port number: ${JSON.stringify(portText)}`)
}

// Make the key path absolute before we change directory; MockPass itself
// resolves relative paths against its own package directory.
if (process.env.SERVICE_PROVIDER_PUB_KEY) {
  const keyPath = path.resolve(process.env.SERVICE_PROVIDER_PUB_KEY)
  let pem
  try {
    pem = fs.readFileSync(keyPath, 'utf8')
  } catch (e) {
    die(`SERVICE_PROVIDER_PUB_KEY: cannot read ${keyPath}: ${e.message}`)
  }
  if (!/-----BEGIN (PUBLIC KEY|CERTIFICATE)-----/.test(pem)) {
    die('SERVICE_PROVIDER_PUB_KEY must be an SPKI "BEGIN PUBLIC KEY" PEM or an X.509 certificate')
  }
  process.env.SERVICE_PROVIDER_PUB_KEY = keyPath
} else {
  console.warn('mockpass: SERVICE_PROVIDER_PUB_KEY is not set; userinfo will be encrypted to MockPass\'s bundled key')
}

process.chdir(__dirname)
if (fs.existsSync('.env')) {
  die(`refusing to start: ${path.join(__dirname, '.env')} exists and MockPass would load it`)
}

const mockpassDir = path.dirname(require.resolve('@opengovsg/mockpass/package.json'))

// Persona check: same data MockPass uses.
const myinfoPersonas = require(path.join(mockpassDir, 'static/myinfo/v3.json')).personas
if (!process.env.MOCKPASS_NRIC) process.env.MOCKPASS_NRIC = DEFAULT_NRIC
const nric = process.env.MOCKPASS_NRIC
if (!myinfoPersonas[nric]) {
  die(`MOCKPASS_NRIC=${nric} is not a MyInfo persona (try ${DEFAULT_NRIC})`)
}

// Express 4 ignores the promise an async handler returns, so a rejection
// becomes an unhandledRejection, which ends Node >= 15. Route it to next(err)
// instead. Patch the copy of express that MockPass will load.
const layerPath = require.resolve('express/lib/router/layer', { paths: [mockpassDir] })
const Layer = require(layerPath)
Layer.prototype.handle_request = function handle(req, res, next) {
  const fn = this.handle
  if (fn.length > 3) return next() // error handler: not for a plain request
  try {
    const ret = fn(req, res, next)
    if (ret && typeof ret.then === 'function') ret.then(undefined, next)
  } catch (err) {
    next(err)
  }
}

const { app } = require('@opengovsg/mockpass/app')

// Last in the chain: any error becomes a JSON 500 (the stock final handler
// would print an HTML stack trace).
// eslint-disable-next-line no-unused-vars
app.use((err, req, res, next) => {
  console.error(`mockpass: ${req.method} ${req.path} failed: ${err && err.stack ? err.stack : err}`)
  if (res.headersSent) return res.end()
  res.status(500).json({ message: String(err && err.message ? err.message : err) })
})

const servers = listenLoopback(app, port, () => {
  console.warn(`mockpass: listening on http://localhost:${port} (${servers.length} loopback address(es); persona ${nric} "${myinfoPersonas[nric].name.value}", login page ${process.env.SHOW_LOGIN_PAGE === 'true' ? 'on' : 'off'})`)
}, die)

// Exit promptly and quietly on the signals the scripts send.
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    for (const s of servers) s.close()
    process.exit(0)
  })
}
