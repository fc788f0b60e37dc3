#!/usr/bin/env node
// A WebSocket client for tests/gateway/run.sh (RFC 6455, no npm
// dependency): opens URL with the given extra headers ("Name: value"
// arguments), and on 101 sends one masked text frame and prints the first
// text frame back. Prints "status <code>" first, then (on 101)
// "accept ok|bad" and "message <text>". Exits 0 when it got an answer of
// any status; 1 on a transport error or a timeout (5 s).
'use strict';

const crypto = require('crypto');
const http = require('http');

const [url, ...extra] = process.argv.slice(2);
const key = crypto.randomBytes(16).toString('base64');
const headers = { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': key };
for (const h of extra) {
  const i = h.indexOf(':');
  headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
}
const timer = setTimeout(() => { console.log('timeout'); process.exit(1); }, 5000);
const req = http.request(url, { headers });
req.on('response', (res) => {           // no upgrade: the gateway's answer
  console.log(`status ${res.statusCode}`);
  console.log(`location ${res.headers.location || ''}`);
  res.resume();
  res.on('end', () => { clearTimeout(timer); process.exit(0); });
});
req.on('upgrade', (res, socket) => {
  console.log(`status ${res.statusCode}`);
  const want = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  console.log(`accept ${res.headers['sec-websocket-accept'] === want ? 'ok' : 'bad'}`);
  const payload = Buffer.from('ping over the gateway', 'utf8');
  const mask = crypto.randomBytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
  socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]));
  let buf = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    if (buf.length < 2) return;
    let len = buf[1] & 0x7f, off = 2;
    if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
    if (buf.length < off + len) return;
    console.log(`message ${buf.subarray(off, off + len).toString('utf8')}`);
    clearTimeout(timer);
    socket.end();
    process.exit(0);
  });
});
req.on('error', (e) => { console.log(`error ${e.message}`); process.exit(1); });
req.end();
