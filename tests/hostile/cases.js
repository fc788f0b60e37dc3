'use strict';
// The hostile-provider case table. Each case:
//   name      unique, short
//   scenario  JSON for POST /__control/scenario (see tests/hostile-idp/README.md)
//   expect    acceptable outcomes of the full login (runner.js `login`):
//               'ok'               logged in, /api/userinfo 200 with the expected data
//               'redirect→/error'  /api/redirect sent the browser to {frontend}/error
//               'redirect→400'     /api/redirect refused the request itself
//               'userinfo→502'     logged in, but /api/userinfo answered 502
//             (the runner also plays each case as a gateway's login,
//             /api/login?rd=/protected/x, whose callback fetches userinfo
//             itself: there 'userinfo→502' reads 'redirect→/error', and 'ok'
//             means the callback went to exactly the rd, /api/auth 200 with
//             the same sub and name, no second userinfo call)
//   expectGateway  the gateway pass's outcomes, when not those (unused so far)
//   allow     provider violations this case provokes on purpose (default none)
//   fresh     true: the runner rotates the signing key and waits out the JWKS
//             refetch throttle first, so the app must fetch this case's JWKS
//   rotates   true: the case rotates the key itself (the runner waits after it)
//   data      expected /api/userinfo data for an 'ok' case (default persona)
//   run       custom flow: async (ctx) => ({ outcome, fail?, note? })
// After every case the runner checks: no logged-in session unless 'ok'
// (/api/userinfo never 200; in the gateway pass /api/auth 401 too, and the
// callback's Location the error page, never the rd), no unexpected provider
// violation, every worker alive, and that the next plain login (of the same
// pass: a gateway's lands on the rd) still succeeds.

const ERR = ['redirect→/error'];
const UI502 = ['userinfo→502'];
const OK = ['ok'];
// A malformed callback request may be refused before any redirect (400).
const ERR_OR_400 = ['redirect→/error', 'redirect→400'];

// A login started (auth-url) and the user through sgID's authorize step:
// { location } of the callback, or { outcome } when a step failed.
async function atSgid(ctx, jar) {
  const b = await ctx.begin(jar);
  if (b.outcome) return b;
  return ctx.authorize(b.url);
}

const idt = (o) => ({ id_token: o });
const tok = (o) => ({ token: o });
const ui = (o) => ({ userinfo: o });
const jwe = (o) => ({ userinfo: { jwe: o } });

// Rewrites the query of the provider's redirect back to the app.
function query(fn) {
  return (url) => {
    const u = new URL(url);
    const p = new URLSearchParams(u.search);
    const out = fn(p) || p;
    u.search = typeof out === 'string' ? out : out.toString();
    return u.toString();
  };
}

const cases = [
  // ---- baseline: what must keep working --------------------------------
  { name: 'happy: defaults (RSA-OAEP-256/A256GCM key, A128GCMKW data)', scenario: {}, expect: OK },
  {
    name: 'happy: node-jose profile (RSA-OAEP/A128CBC-HS256 key, dir/A256GCM data)',
    scenario: jwe({ key_alg: 'RSA-OAEP', key_enc: 'A128CBC-HS256', data_alg: 'dir', data_enc: 'A256GCM' }),
    expect: OK,
  },
  { name: 'happy: data A256KW + A128CBC-HS256', scenario: jwe({ data_alg: 'A256KW', data_enc: 'A128CBC-HS256' }), expect: OK },
  { name: 'happy: data A256GCMKW + A256GCM', scenario: jwe({ data_alg: 'A256GCMKW', data_enc: 'A256GCM' }), expect: OK },
  { name: 'happy: UTF-8 name', scenario: ui({ data_plain: { 'myinfo.name': 'Zoë 陈' } }), expect: OK, data: { 'myinfo.name': 'Zoë 陈' } },
  { name: 'happy: userinfo without key and data (openid only)', scenario: ui({ body_remove: ['key', 'data'] }), expect: OK, data: {} },
  { name: 'happy: aud array with our id only', scenario: idt({ claims_set: { aud: ['$CLIENT_ID'] } }), expect: OK },
  { name: 'happy: aud array of two with azp = us', scenario: idt({ claims_set: { aud: ['$CLIENT_ID', 'other-client'], azp: '$CLIENT_ID' } }), expect: OK },
  { name: 'happy: ID token without typ (typ is not checked)', scenario: idt({ header_remove: ['typ'] }), expect: OK },
  { name: 'happy: token endpoint 800 ms slow', scenario: tok({ delay_ms: 800 }), expect: OK },
  {
    name: 'jwks: cached (4 logins fetch it at most once per worker)',
    scenario: {},
    expect: OK,
    async run(ctx) {
      let outcome = 'ok';
      for (let i = 0; i < 4 && outcome === 'ok'; i++) outcome = (await ctx.login()).outcome;
      const n = (await ctx.log()).counters.jwks_requests;
      return { outcome, fail: n > ctx.cfg.workers ? `${n} JWKS fetches for 4 logins` : null, note: `jwks_requests=${n}` };
    },
  },
  {
    name: 'jwks: key rotated between two logins (accepted after one refetch)',
    scenario: {},
    expect: OK,
    rotates: true,
    async run(ctx) {
      const first = await ctx.login();
      if (first.outcome !== 'ok') return { outcome: `first login: ${first.outcome}` };
      await ctx.rotate();
      await ctx.sleep(ctx.cfg.refetchMs + 300);
      const before = (await ctx.log()).counters.jwks_requests;
      const second = await ctx.login();
      const n = (await ctx.log()).counters.jwks_requests - before;
      return { outcome: second.outcome, fail: n !== 1 ? `${n} JWKS fetches after rotation, expected 1` : null, note: `jwks_requests=${n}` };
    },
  },

  // ---- ID token: signature and key ---------------------------------------
  { name: 'id_token: alg none', scenario: idt({ sign: 'none' }), expect: ERR },
  { name: 'id_token: HS256 signed with the client secret', scenario: idt({ sign: 'hs256_secret' }), expect: ERR },
  { name: 'id_token: HS256 with the client secret, kid of our RSA key', scenario: idt({ sign: 'hs256_secret', header_set: { kid: '$CURRENT_KID' } }), expect: ERR },
  { name: 'id_token: bad RS256 signature', scenario: idt({ sign: 'corrupt_sig' }), expect: ERR },
  { name: 'id_token: RS256 by a key not in the JWKS (our kid)', scenario: idt({ sign: 'rs256_foreign' }), expect: ERR },
  { name: 'id_token: RS256 by a key not in the JWKS (unknown kid)', scenario: idt({ sign: 'rs256_foreign', header_set: { kid: 'unknown-kid' } }), expect: ERR },
  { name: 'id_token: RS384 by our key', scenario: idt({ sign: 'rs384' }), expect: ERR },
  { name: 'id_token: PS256 by our key', scenario: idt({ sign: 'ps256' }), expect: ERR },
  { name: 'id_token: attacker key embedded in the header (jwk)', scenario: idt({ sign: 'jwk_embedded' }), expect: ERR },
  { name: 'id_token: crit header', scenario: idt({ header_set: { crit: ['exp'] } }), expect: ERR },
  { name: 'id_token: 5 parts (a JWE)', scenario: idt({ raw: 'eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.AAAA.AAAA.AAAA.AAAA' }), expect: ERR },
  { name: 'id_token: not a JWT', scenario: idt({ raw: 'not-a-jwt' }), expect: ERR },
  { name: 'id_token: empty string', scenario: idt({ raw: '' }), expect: ERR },
  { name: 'id_token: payload not JSON', scenario: idt({ payload_raw: '{"iss":' }), expect: ERR },
  { name: 'id_token: RS256 by a 1024-bit key served in the JWKS', scenario: { id_token: { sign: 'rs256_weak' }, jwks: { keys: ['weak', 'current'] } }, expect: ERR, fresh: true },

  // ---- ID token: claims ----------------------------------------------------
  { name: 'id_token: iss foreign', scenario: idt({ claims_set: { iss: 'https://evil.example/v2' } }), expect: ERR },
  { name: 'id_token: iss without /v2', scenario: idt({ claims_set: { iss: '$ORIGIN' } }), expect: ERR },
  { name: 'id_token: iss with trailing slash', scenario: idt({ claims_set: { iss: '$ISSUER/' } }), expect: ERR },
  { name: 'id_token: iss missing', scenario: idt({ claims_remove: ['iss'] }), expect: ERR },
  { name: 'id_token: aud foreign', scenario: idt({ claims_set: { aud: 'other-client' } }), expect: ERR },
  { name: 'id_token: aud missing', scenario: idt({ claims_remove: ['aud'] }), expect: ERR },
  { name: 'id_token: aud array without our id', scenario: idt({ claims_set: { aud: ['other-client', 'third'] } }), expect: ERR },
  { name: 'id_token: aud array of two, no azp', scenario: idt({ claims_set: { aud: ['$CLIENT_ID', 'other-client'] } }), expect: ERR },
  { name: 'id_token: aud array of two, foreign azp', scenario: idt({ claims_set: { aud: ['$CLIENT_ID', 'other-client'], azp: 'other-client' } }), expect: ERR },
  { name: 'id_token: string aud, foreign azp', scenario: idt({ claims_set: { azp: 'other-client' } }), expect: ERR },
  { name: 'id_token: sub missing', scenario: idt({ claims_remove: ['sub'] }), expect: ERR },
  { name: 'id_token: sub empty', scenario: idt({ claims_set: { sub: '' } }), expect: ERR },
  { name: 'id_token: sub a number', scenario: idt({ claims_set: { sub: 12345 } }), expect: ERR },
  { name: 'id_token: iat missing', scenario: idt({ claims_remove: ['iat'] }), expect: ERR },
  { name: 'id_token: iat a string', scenario: idt({ claims_set: { iat: 'yesterday' } }), expect: ERR },
  { name: 'id_token: iat an hour ahead', scenario: idt({ claims_relative: { iat: 3600 } }), expect: ERR },
  { name: 'id_token: exp expired (10 min ago)', scenario: idt({ claims_relative: { exp: -600, iat: -900 } }), expect: ERR },
  { name: 'id_token: exp missing', scenario: idt({ claims_remove: ['exp'] }), expect: ERR },
  { name: 'id_token: exp a string', scenario: idt({ claims_set: { exp: '9999999999' } }), expect: ERR },
  { name: 'id_token: nbf 10 min ahead', scenario: idt({ claims_relative: { nbf: 600 } }), expect: ERR },
  { name: 'id_token: nonce mismatch', scenario: idt({ claims_set: { nonce: 'not-the-nonce-we-sent-aaaaaaaaaaaaaaaaaaaaa' } }), expect: ERR },
  { name: 'id_token: nonce missing', scenario: idt({ claims_remove: ['nonce'] }), expect: ERR },

  // ---- JWKS contents -------------------------------------------------------
  { name: 'jwks: unknown kid', scenario: idt({ header_set: { kid: 'no-such-kid' } }), expect: ERR },
  {
    name: 'jwks: kid absent, several keys, signed by one of them (accepted)',
    scenario: { id_token: { sign: 'rs256_decoy', header_remove: ['kid'] }, jwks: { keys: ['decoys', 'current'] } },
    expect: OK, fresh: true,
  },
  {
    name: 'jwks: kid absent, several keys, none verifies',
    scenario: { id_token: { sign: 'rs256_foreign', header_remove: ['kid'] }, jwks: { keys: ['decoys', 'current'] } },
    expect: ERR, fresh: true,
  },
  {
    name: 'jwks: no kids anywhere, token without kid (accepted)',
    scenario: { id_token: { header_remove: ['kid'] }, jwks: { keys: ['decoys', 'current'], strip_kid: true } },
    expect: OK, fresh: true,
  },
  {
    name: 'jwks: unparseable and non-RSA entries skipped (accepted)',
    scenario: { jwks: { keys: ['current'], garbage: true, non_rsa: true } },
    expect: OK, fresh: true,
  },
  {
    name: 'jwks: only non-RSA keys (client secret as oct), HS256 token',
    scenario: { id_token: { sign: 'hs256_secret', header_set: { kid: 'oct-key' } }, jwks: { keys: [], non_rsa: true } },
    expect: ERR, fresh: true,
  },
  { name: 'jwks: endpoint 500 while the key is new', scenario: { jwks: { status: 500, raw_body: '{"error":"boom"}' } }, expect: ERR, fresh: true },
  { name: 'jwks: not JSON while the key is new', scenario: { jwks: { raw_body: '<html>not json' } }, expect: ERR, fresh: true },
  {
    name: 'jwks: unknown-kid storm (refetch throttled)',
    scenario: {},
    expect: ERR,
    async run(ctx) {
      const n = 12;
      const t0 = Date.now();
      const before = (await ctx.log()).counters.jwks_requests;
      let bad = null;
      for (let i = 0; i < n; i++) {
        await ctx.scenario(idt({ header_set: { kid: `storm-${i}-${Date.now()}` } }));
        const r = await ctx.login();
        if (r.outcome !== 'redirect→/error') { bad = `login ${i}: ${r.outcome}`; break; }
      }
      const fetches = (await ctx.log()).counters.jwks_requests - before;
      const secs = (Date.now() - t0) / 1000;
      const limit = ctx.cfg.workers * (1 + Math.floor(secs / (ctx.cfg.refetchMs / 1000)));
      return {
        outcome: bad || 'redirect→/error',
        fail: fetches > limit ? `${fetches} JWKS fetches for ${n} unknown kids in ${secs.toFixed(1)} s (limit ${limit})` : null,
        note: `jwks_requests=${fetches} in ${secs.toFixed(1)}s, limit ${limit}`,
      };
    },
  },

  // ---- token endpoint ------------------------------------------------------
  { name: 'token: 400 invalid_grant', scenario: tok({ status: 400, raw_body: '{"error":"invalid_grant","error_description":"hostile"}' }), expect: ERR },
  { name: 'token: 401', scenario: tok({ status: 401, raw_body: '{"error":"invalid_client"}' }), expect: ERR },
  { name: 'token: 500', scenario: tok({ status: 500 }), expect: ERR },
  { name: 'token: 503 HTML', scenario: tok({ status: 503, raw_body: '<html>down</html>', content_type: 'text/html' }), expect: ERR },
  { name: 'token: 200 not JSON', scenario: tok({ raw_body: 'access_token=x&id_token=y' }), expect: ERR },
  { name: 'token: 200 JSON array', scenario: tok({ raw_body: '[]' }), expect: ERR },
  { name: 'token: 200 JSON null', scenario: tok({ raw_body: 'null' }), expect: ERR },
  { name: 'token: 200 with a 5 MB body', scenario: tok({ huge_mb: 5 }), expect: ERR },
  { name: 'token: slower than the timeout', scenario: tok({ delay_ms: 3500 }), expect: ERR },
  { name: 'token: socket closed before headers', scenario: tok({ destroy: 'before_headers' }), expect: ERR },
  { name: 'token: socket closed mid-body', scenario: tok({ destroy: 'mid_body' }), expect: ERR },
  { name: 'token: id_token missing', scenario: tok({ body_remove: ['id_token'] }), expect: ERR },
  { name: 'token: access_token missing', scenario: tok({ body_remove: ['access_token'] }), expect: ERR },
  { name: 'token: access_token empty', scenario: tok({ body_set: { access_token: '' } }), expect: ERR },
  { name: 'token: access_token a number', scenario: tok({ body_set: { access_token: 12345 } }), expect: ERR },
  { name: 'token: id_token a number', scenario: tok({ body_set: { id_token: 12345 } }), expect: ERR },

  // ---- userinfo --------------------------------------------------------------
  { name: 'userinfo: sub differs from the ID token', scenario: ui({ sub: 'u=someone-else' }), expect: UI502 },
  { name: 'userinfo: sub missing', scenario: ui({ body_remove: ['sub'] }), expect: UI502 },
  { name: 'userinfo: 401 invalid_token', scenario: ui({ status: 401, www_authenticate: 'Bearer error="invalid_token"', raw_body: '' }), expect: UI502 },
  { name: 'userinfo: 500', scenario: ui({ status: 500 }), expect: UI502 },
  { name: 'userinfo: 200 not JSON', scenario: ui({ raw_body: '<html>' }), expect: UI502 },
  { name: 'userinfo: 200 with a 5 MB body', scenario: ui({ huge_mb: 5 }), expect: UI502 },
  { name: 'userinfo: slower than the timeout', scenario: ui({ delay_ms: 3500 }), expect: UI502 },
  { name: 'userinfo: socket closed mid-body', scenario: ui({ destroy: 'mid_body' }), expect: UI502 },
  { name: 'userinfo: data not an object', scenario: ui({ body_set: { data: 'x' } }), expect: UI502 },
  // SGID-PROTOCOL §11.5 lets a client treat a missing key as "no data"; the
  // data it cannot decrypt must then not show up.
  { name: 'userinfo: key missing, data present', scenario: ui({ body_remove: ['key'] }), expect: ['userinfo→502', 'ok'], data: {} },
  { name: 'userinfo: key a number', scenario: ui({ body_set: { key: 42 } }), expect: UI502 },
  { name: 'key JWE: ciphertext byte flipped', scenario: jwe({ key_tamper: 'ciphertext' }), expect: UI502 },
  { name: 'key JWE: tag byte flipped', scenario: jwe({ key_tamper: 'tag' }), expect: UI502 },
  { name: 'key JWE: iv byte flipped', scenario: jwe({ key_tamper: 'iv' }), expect: UI502 },
  { name: 'key JWE: encrypted key byte flipped', scenario: jwe({ key_tamper: 'ek' }), expect: UI502 },
  { name: 'key JWE: protected header changed (AAD)', scenario: jwe({ key_tamper: 'header' }), expect: UI502 },
  { name: 'key JWE: tag truncated to 8 bytes', scenario: jwe({ key_tamper: 'truncate_tag' }), expect: UI502 },
  { name: 'key JWE: truncated', scenario: jwe({ key_tamper: 'truncate' }), expect: UI502 },
  { name: 'key JWE: 4 parts', scenario: jwe({ key_tamper: 'parts4' }), expect: UI502 },
  { name: 'key JWE: 6 parts', scenario: jwe({ key_tamper: 'parts6' }), expect: UI502 },
  { name: 'key JWE: bad base64url', scenario: jwe({ key_tamper: 'bad_b64' }), expect: UI502 },
  { name: 'key JWE: encrypted to another RSA key', scenario: jwe({ wrong_rsa_key: true }), expect: UI502 },
  { name: 'key JWE: RSA1_5', scenario: jwe({ key_alg: 'RSA1_5' }), expect: UI502 },
  { name: 'key JWE: zip DEF', scenario: jwe({ key_zip: true }), expect: UI502 },
  { name: 'key JWE: plaintext not a JWK', scenario: jwe({ key_plain_raw: 'not json' }), expect: UI502 },
  { name: 'key JWE: block key of 5 bytes', scenario: jwe({ key_plain_raw: '{"kty":"oct","k":"AAAAAAA"}' }), expect: UI502 },
  { name: 'data JWE: ciphertext byte flipped', scenario: jwe({ data_tamper: 'ciphertext' }), expect: UI502 },
  { name: 'data JWE: tag byte flipped', scenario: jwe({ data_tamper: 'tag' }), expect: UI502 },
  { name: 'data JWE: iv byte flipped', scenario: jwe({ data_tamper: 'iv' }), expect: UI502 },
  { name: 'data JWE: wrapped key byte flipped', scenario: jwe({ data_tamper: 'ek' }), expect: UI502 },
  { name: 'data JWE: protected header changed (AAD)', scenario: jwe({ data_tamper: 'header' }), expect: UI502 },
  { name: 'data JWE: tag truncated to 8 bytes', scenario: jwe({ data_tamper: 'truncate_tag' }), expect: UI502 },
  { name: 'data JWE: empty tag', scenario: jwe({ data_tamper: 'empty_tag' }), expect: UI502 },
  { name: 'data JWE: 4 parts', scenario: jwe({ data_tamper: 'parts4' }), expect: UI502 },
  { name: 'data JWE: 6 parts', scenario: jwe({ data_tamper: 'parts6' }), expect: UI502 },
  { name: 'data JWE: dir with a truncated tag', scenario: jwe({ data_alg: 'dir', data_enc: 'A256GCM', data_tamper: 'truncate_tag' }), expect: UI502 },
  { name: 'data JWE: CBC-HS tag byte flipped', scenario: jwe({ data_alg: 'A256KW', data_enc: 'A128CBC-HS256', data_tamper: 'tag' }), expect: UI502 },
  { name: 'data JWE: under another block key', scenario: jwe({ wrong_block_key: true }), expect: UI502 },
  { name: 'data JWE: zip DEF', scenario: jwe({ data_zip: true }), expect: UI502 },
  { name: 'data: value a number', scenario: ui({ data_values: { 'myinfo.name': 42 } }), expect: UI502 },
  { name: 'data: value an object', scenario: ui({ data_values: { 'myinfo.name': { a: 1 } } }), expect: UI502 },

  // ---- the redirect back to us ----------------------------------------------
  { name: 'redirect: error=access_denied', scenario: { authorize: { error: 'access_denied', error_description: 'user cancelled' } }, expect: ERR },
  { name: 'redirect: state missing', mutate: query((p) => { p.delete('state'); }), expect: ERR_OR_400 },
  { name: 'redirect: state empty', mutate: query((p) => { p.set('state', ''); }), expect: ERR_OR_400 },
  { name: 'redirect: state altered', mutate: query((p) => { p.set('state', `${p.get('state')}x`); }), expect: ERR },
  { name: 'redirect: state duplicated', mutate: query((p) => { p.append('state', p.get('state')); }), expect: ERR_OR_400 },
  { name: 'redirect: code missing', mutate: query((p) => { p.delete('code'); }), expect: ERR_OR_400 },
  { name: 'redirect: code empty', mutate: query((p) => { p.set('code', ''); }), expect: ERR_OR_400 },
  { name: 'redirect: code duplicated', mutate: query((p) => { p.append('code', p.get('code')); }), expect: ERR_OR_400 },
  { name: 'redirect: code unknown to the provider', mutate: query((p) => { p.set('code', 'forged-code-0123456789'); }), expect: ERR, allow: ['code_unknown'] },
  { name: 'redirect: no cookie', noCookie: true, expect: ERR_OR_400 },
  { name: 'redirect: forged cookie value', cookie: 'exampleAppSession=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', expect: ERR_OR_400 },
  {
    name: 'redirect: replayed after a successful login',
    expect: ERR,
    async run(ctx) {
      const jar = ctx.newJar();
      const first = await ctx.login({ jar, keepJar: true });
      if (first.outcome !== 'ok') return { outcome: `first login: ${first.outcome}` };
      const r = await ctx.callback(first.preJar, first.redirectUrl);
      return { outcome: await ctx.finish(first.preJar, r) };
    },
  },
  {
    name: 'redirect: code of an earlier login replayed into a new attempt',
    expect: ERR,
    allow: ['code_reused', 'pkce_mismatch'],
    async run(ctx) {
      const first = await ctx.login();
      if (first.outcome !== 'ok') return { outcome: `first login: ${first.outcome}` };
      const oldCode = new URL(first.redirectUrl).searchParams.get('code');
      const jar = ctx.newJar();
      const a = await atSgid(ctx, jar);
      if (a.outcome) return a;
      const url = query((p) => { p.set('code', oldCode); })(a.location);
      return { outcome: await ctx.finish(jar, await ctx.callback(jar, url)) };
    },
  },
  {
    name: 'redirect: cookie of another login attempt',
    expect: ERR,
    async run(ctx) {
      const jarA = ctx.newJar();
      const jarB = ctx.newJar();
      const a = await ctx.begin(jarA);
      const b = await ctx.begin(jarB);
      if (a.outcome || b.outcome) return { outcome: a.outcome || b.outcome };
      const authA = await ctx.authorize(a.url);
      if (authA.outcome) return authA;
      return { outcome: await ctx.finish(jarB, await ctx.callback(jarB, authA.location)) };
    },
  },
  {
    // Two tabs (or an attacker racing the user) deliver one callback twice at
    // once: the SET NX marker lets exactly one through to sgID.
    name: 'redirect: the same callback twice at once: exactly one login',
    expect: ['one login, one /error'],
    async run(ctx) {
      const jar = ctx.newJar();
      const a = await atSgid(ctx, jar);
      if (a.outcome) return a;
      const jars = [new jar.constructor(jar), new jar.constructor(jar)];
      const cbs = await Promise.all(jars.map((j) => ctx.callback(j, a.location)));
      const outs = [];
      for (let i = 0; i < 2; i++) outs.push(await ctx.finish(jars[i], cbs[i]));
      outs.sort();
      return { outcome: outs[0] === 'ok' && outs[1] === 'redirect→/error' ? 'one login, one /error' : outs.join(' + ') };
    },
  },
  {
    name: 'redirect: attempt cookie with one character changed',
    expect: ERR,
    async run(ctx) {
      const jar = ctx.newJar();
      const a = await atSgid(ctx, jar);
      if (a.outcome) return a;
      const v = jar.c.get('exampleAppSession');
      if (!v || v.length <= 43) return { outcome: `attempt cookie of length ${v ? v.length : 0}` };
      const i = Math.floor(v.length / 2);
      const bad = v.slice(0, i) + (v[i] === 'A' ? 'B' : 'A') + v.slice(i + 1);
      return { outcome: await ctx.finish(jar, await ctx.callback(jar, a.location, { cookie: `exampleAppSession=${bad}` })) };
    },
  },
  {
    // Other apps on the domain write what they like into the Cookie header.
    name: 'redirect: our cookie among broken foreign ones',
    expect: ['ok'],
    async run(ctx) {
      const jar = ctx.newJar();
      const a = await atSgid(ctx, jar);
      if (a.outcome) return a;
      const junk = ['flag', `big=${'x'.repeat(3000)}`, ...Array.from({ length: 40 }, (_, k) => `c${k}=${k}`)];
      const cookie = `${junk.join('; ')}; exampleAppSession=${jar.c.get('exampleAppSession')}`;
      return { outcome: await ctx.finish(jar, await ctx.callback(jar, a.location, { cookie })) };
    },
  },
  {
    name: 'redirect: login attempt expired',
    expect: ERR,
    async run(ctx) {
      const jar = ctx.newJar();
      const a = await atSgid(ctx, jar);
      if (a.outcome) return a;
      await ctx.sleep(ctx.cfg.loginTtlMs + 1500);
      return { outcome: await ctx.finish(jar, await ctx.callback(jar, a.location)) };
    },
  },
];

module.exports = cases;
