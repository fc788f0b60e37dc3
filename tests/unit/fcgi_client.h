/* A minimal FastCGI client for tests: one responder or authorizer request
 * over a unix socket, no body, params given as "NAME=value" strings;
 * returns what the application wrote to FCGI_STDOUT (the CGI response). */
#ifndef SGID_TEST_FCGI_CLIENT_H
#define SGID_TEST_FCGI_CLIENT_H

#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

enum { FCGI_ROLE_RESPONDER = 1, FCGI_ROLE_AUTHORIZER = 2 };
enum { FCGI_T_BEGIN = 1, FCGI_T_END = 3, FCGI_T_PARAMS = 4, FCGI_T_STDIN = 5, FCGI_T_STDOUT = 6 };

static inline size_t fcgi_record(uint8_t *out, int type, const void *content, size_t len)
{
	uint8_t h[8] = { 1, (uint8_t)type, 0, 1, (uint8_t)(len >> 8), (uint8_t)len, 0, 0 };
	memcpy(out, h, 8);
	if (len)
		memcpy(out + 8, content, len);
	return 8 + len;
}

/* 0 with the response in out (NUL-terminated, cut at cap - 1), -1 when the
 * socket does not answer within timeout_ms. An authorizer request has no
 * FCGI_STDIN stream at all (FastCGI 1.0 section 6.3). */
static inline int fcgi_request_role(const char *sock_path, int role, const char *const *params,
	char *out, size_t cap, int timeout_ms)
{
	uint8_t req[8192], pbuf[4096];
	size_t n = 0, pn = 0, got = 0;
	const uint8_t begin[8] = { 0, (uint8_t)role, 0, 0, 0, 0, 0, 0 }; /* close when done */
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), rc = -1, ended = 0;

	if (fd < 0 || strlen(sock_path) >= sizeof(sa.sun_path))
		goto done;
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	for (const char *const *p = params; *p; p++) {
		const char *eq = strchr(*p, '=');
		size_t kl = (size_t)(eq - *p), vl = strlen(eq + 1);
		if (kl > 127 || vl > 127 || pn + 2 + kl + vl > sizeof(pbuf))
			goto done;
		pbuf[pn++] = (uint8_t)kl;
		pbuf[pn++] = (uint8_t)vl;
		memcpy(pbuf + pn, *p, kl);
		memcpy(pbuf + pn + kl, eq + 1, vl);
		pn += kl + vl;
	}
	n += fcgi_record(req + n, FCGI_T_BEGIN, begin, sizeof(begin));
	n += fcgi_record(req + n, FCGI_T_PARAMS, pbuf, pn);
	n += fcgi_record(req + n, FCGI_T_PARAMS, NULL, 0);
	if (role != FCGI_ROLE_AUTHORIZER)
		n += fcgi_record(req + n, FCGI_T_STDIN, NULL, 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || write(fd, req, n) != (ssize_t)n)
		goto done;
	/* records: 8-byte header, content, padding */
	uint8_t in[65536];
	size_t have = 0;
	while (!ended) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		if (poll(&pfd, 1, timeout_ms) != 1)
			goto done;
		ssize_t r = read(fd, in + have, sizeof(in) - have);
		if (r <= 0)
			break;
		have += (size_t)r;
		while (have >= 8) {
			size_t cl = ((size_t)in[4] << 8) | in[5], total = 8 + cl + in[6];
			if (have < total)
				break;
			if (in[1] == FCGI_T_STDOUT)
				for (size_t i = 0; i < cl && got + 1 < cap; i++)
					out[got++] = (char)in[8 + i];
			if (in[1] == FCGI_T_END)
				ended = 1;
			memmove(in, in + total, have - total);
			have -= total;
		}
	}
	out[got] = '\0';
	rc = ended ? 0 : -1;
done:
	if (fd >= 0)
		close(fd);
	return rc;
}

static inline int fcgi_request(const char *sock_path, const char *const *params, char *out,
	size_t cap, int timeout_ms)
{
	return fcgi_request_role(sock_path, FCGI_ROLE_RESPONDER, params, out, cap, timeout_ms);
}

/* The environment of a worker under test: the test client key, and a
 * Redis that is never reached (the requests name no session). */
static inline void fcgi_test_worker_env(void)
{
	setenv("SGID_CLIENT_ID", "TESTCLIENT", 1);
	setenv("SGID_CLIENT_SECRET", "worker-test-secret", 1);
	setenv("SGID_PRIVATE_KEY_FILE", "tests/vectors/client-test-key-pkcs1.pem", 1);
	setenv("REDIS_URL", "unix:///nonexistent/redis.sock", 1);
}

#endif
