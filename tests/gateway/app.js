#!/usr/bin/env node
// The app behind deploy/gateway/nginx.conf.example in tests/gateway/run.sh
// (and the browser test): a stand-in for "your app", which knows nothing
// about sgID and trusts the identity headers the gateway sets.
//
// Every request: an HTML page (or JSON when the client's Accept names
// application/json before text/html) showing what it received:
//   identity  the three headers the example sets (X-Sgid-Sub,
//             X-Sgid-Myinfo-Name, X-Sgid-Myinfo-Nric-Number), raw and
//             percent-decoded, null when absent
//   headers   every X-Sgid-* header as received, each name with all its
//             copies (from the raw header list: a forged second copy shows)
//   cookie    every Cookie header as received, byte for byte ([] for none)
// and one JSON line per request in GATEWAY_APP_LOG (if set), so a test can
// tell whether a request reached the app at all.
//
// A WebSocket upgrade gets an echo (below) that also shows the identity.
//
// Environment: GATEWAY_APP_PORT (5180), GATEWAY_APP_LOG (unset: no log).
// Listens on 127.0.0.1 only. GET /__health answers "ok" (for start-up).
'use strict';

const fs = require('fs');
const http = require('http');

const PORT = Number(process.env.GATEWAY_APP_PORT || 5180);
const LOG = process.env.GATEWAY_APP_LOG || '';

const FIELDS = {
  sub: 'x-sgid-sub',
  name: 'x-sgid-myinfo-name',
  nric_number: 'x-sgid-myinfo-nric-number',
};

// X-Sgid-* headers in arrival order: lower-case name -> [values].
function sgidHeaders(req) {
  const out = {};
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i].toLowerCase();
    if (name.startsWith('x-sgid-')) (out[name] = out[name] || []).push(req.rawHeaders[i + 1]);
  }
  return out;
}

// Values are ASCII with bytes outside 0x20-0x7E and '%' percent-encoded.
function decode(v) {
  try {
    return decodeURIComponent(v);
  } catch (e) {
    return null;
  }
}

function identity(headers) {
  const id = {};
  for (const [key, name] of Object.entries(FIELDS)) {
    const v = headers[name];
    id[key] = v ? { raw: v.join(', '), value: v.length === 1 ? decode(v[0]) : null } : null;
  }
  return id;
}

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function wantsJson(req) {
  const accept = String(req.headers.accept || '');
  const j = accept.indexOf('application/json');
  const h = accept.indexOf('text/html');
  return j >= 0 && (h < 0 || j < h);
}

function page(info) {
  const who = info.identity.name && info.identity.name.value;
  const greeting = who ? `Hello, ${esc(who)}` : 'Hello, anonymous visitor';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gateway test app</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:2rem;max-width:48rem}
pre{background:#f4f4f4;padding:1rem;overflow:auto}</style></head>
<body>
<h1 id="greeting">${greeting}</h1>
<p>Path: <code id="uri">${esc(info.uri)}</code></p>
<p>sgID subject: <code id="sub">${esc((info.identity.sub && info.identity.sub.value) || '-')}</code></p>
<p><a id="logout" href="/api/logout?rd=/public/bye">Log out</a></p>
<h2>Identity headers received</h2>
<pre id="identity">${esc(JSON.stringify(info, null, 2))}</pre>
</body></html>
`;
}

// Every Cookie header of the request, each copy as it came.
function cookies(req) {
  const out = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2)
    if (req.rawHeaders[i].toLowerCase() === 'cookie') out.push(req.rawHeaders[i + 1]);
  return out;
}

const server = http.createServer((req, res) => {
  if (req.url === '/__health') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('ok\n');
    return;
  }
  const headers = sgidHeaders(req);
  const info = { app: 'nginx-upstream', method: req.method, uri: req.url, identity: identity(headers), headers, cookie: cookies(req) };
  if (LOG) {
    try {
      fs.appendFileSync(LOG, JSON.stringify(info) + '\n');
    } catch (e) {
      console.error(`app: cannot log: ${e.message}`);
    }
  }
  const json = wantsJson(req);
  const body = json ? JSON.stringify(info) + '\n' : page(info);
  res.writeHead(200, {
    'Content-Type': json ? 'application/json' : 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
});

// A WebSocket echo (RFC 6455, written here: no npm dependency): the
// handshake, then each text frame from the client comes back as one text
// frame holding {"echo": <the text>, "identity": ..., "headers": ...,
// "cookie": ...} as the upgrade request carried them. The upgrade is logged like a request
// (method "UPGRADE").
const crypto = require('crypto');
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

function wsFrame(text) {
  const payload = Buffer.from(text, 'utf8');
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x81, len])
    : Buffer.from([0x81, 126, len >> 8, len & 0xff]); // the echo stays under 64 KiB
  return Buffer.concat([head, payload]);
}

server.on('upgrade', (req, socket) => {
  const key = req.headers['sec-websocket-key'];
  if (String(req.headers.upgrade || '').toLowerCase() !== 'websocket' || !key) {
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    return;
  }
  const headers = sgidHeaders(req);
  const info = { app: 'nginx-upstream', method: 'UPGRADE', uri: req.url, identity: identity(headers), headers, cookie: cookies(req) };
  if (LOG) fs.appendFileSync(LOG, JSON.stringify(info) + '\n');
  const accept = crypto.createHash('sha1').update(key + WS_GUID).digest('base64');
  socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${accept}\r\n\r\n`);
  let buf = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (buf.length < 2) return;
      const op = buf[0] & 0x0f, masked = buf[1] & 0x80;
      let len = buf[1] & 0x7f, off = 2;
      if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { socket.destroy(); return; }            // not for a test echo
      if (!masked) { socket.destroy(); return; }                     // clients must mask
      if (buf.length < off + 4 + len) return;
      const mask = buf.subarray(off, off + 4);
      const data = Buffer.from(buf.subarray(off + 4, off + 4 + len));
      for (let i = 0; i < data.length; i++) data[i] ^= mask[i % 4];
      buf = buf.subarray(off + 4 + len);
      if (op === 0x8) { socket.end(Buffer.from([0x88, 0])); return; } // close
      if (op === 0x1) socket.write(wsFrame(JSON.stringify({ echo: data.toString('utf8'), ...info })));
    }
  });
  socket.on('error', () => socket.destroy());
});

server.listen(PORT, '127.0.0.1', () => console.log(`gateway test app on 127.0.0.1:${PORT}`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
