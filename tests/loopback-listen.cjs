'use strict'
// listenLoopback(handler, port, ready): serves an HTTP request handler on
// 127.0.0.1:port and on [::1]:port, so `http://localhost:port` answers
// whichever address localhost resolves to first (Debian's stock /etc/hosts
// has both, and glibc puts ::1 first). A machine without ::1 (IPv6 off)
// gets 127.0.0.1 alone. ready(servers) runs once both are settled; a failure
// on 127.0.0.1, or on ::1 for any reason but its absence, goes to fail(msg).
const http = require('node:http')

const NO_IPV6 = new Set(['EADDRNOTAVAIL', 'EAFNOSUPPORT'])

function listenLoopback (handler, port, ready, fail) {
  const servers = []
  let pending = 2
  const settled = () => { if (--pending === 0) ready(servers) }
  const v4 = http.createServer(handler)
  v4.once('error', (e) => fail(`cannot listen on 127.0.0.1:${port}: ${e.message}`))
  v4.listen(port, '127.0.0.1', () => { servers.push(v4); settled() })
  const v6 = http.createServer(handler)
  v6.once('error', (e) => {
    if (!NO_IPV6.has(e.code)) return fail(`cannot listen on [::1]:${port}: ${e.message}`)
    settled()
  })
  v6.listen({ port, host: '::1', ipv6Only: true }, () => { servers.push(v6); settled() })
  return servers
}

module.exports = { listenLoopback }
