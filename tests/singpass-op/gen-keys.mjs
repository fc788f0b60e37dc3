#!/usr/bin/env node
// Writes the TEST keys of the Singpass stand-in and of its test client into
// tests/vectors/singpass/op/ (run once; the files are committed). They are
// public test data: never use them outside tests.
//   op-signing-key.jwk.json     the stand-in's ES256 ID token/userinfo key
//   op-encryption-key.jwk.json  published only (Singpass's JWKS has one too)
//   rp-signing-key.pem          the test client's ES256 key (PKCS#8 PEM)
//   rp-encryption-key.pem       the test client's ECDH-ES key (PKCS#8 PEM)
//   rp-signing-key-2.pem, rp-encryption-key-2.pem   a second pair (rotation)
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../vectors/singpass/op')
fs.mkdirSync(dir, { recursive: true })
const ec = () => crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
const jwk = (key, extra) => ({ ...key.export({ format: 'jwk' }), ...extra })
const write = (name, text) => fs.writeFileSync(path.join(dir, name), text, { mode: 0o644 })
write('op-signing-key.jwk.json', JSON.stringify(jwk(ec(), { kid: 'sgid-fcgi-test-op-sig-1', use: 'sig', alg: 'ES256' }), null, 2) + '\n')
write('op-encryption-key.jwk.json', JSON.stringify(jwk(ec(), { kid: 'sgid-fcgi-test-op-enc-1', use: 'enc', alg: 'ECDH-ES+A256KW' }), null, 2) + '\n')
for (const name of ['rp-signing-key.pem', 'rp-encryption-key.pem', 'rp-signing-key-2.pem', 'rp-encryption-key-2.pem']) {
  write(name, ec().export({ format: 'pem', type: 'pkcs8' }))
}
