/* store_redis against real redis-server processes that the test owns: a
 * private instance on a unix socket in a temp dir, and for Sentinel a
 * loopback master, a replica, a real sentinel and a lying fake one. Every
 * child is killed at exit, whatever happens. */
#include "store.h"
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "cidr.h"
#include "harness.h"
#include "redis_proc.h"
#include "util.h"

static void unix_cfg(struct redis_config *rc)
{
	memset(rc, 0, sizeof(*rc));
	snprintf(rc->unix_path, sizeof(rc->unix_path), "%s", sock_path);
	rc->connect_timeout_ms = 500;
	rc->command_timeout_ms = 1000;
	snprintf(rc->sentinel_master, sizeof(rc->sentinel_master), "mymaster");
}

static void test_strerror(void)
{
	for (int i = 0; i < STORE_ERR__MAX; i++)
		CHECK(store_strerror((enum store_err)i)[0] != '\0');
	CHECK_STR(store_strerror(STORE_ERR__MAX), "unknown store error");
	store_free(NULL);
}

static void test_lazy_unreachable(void)
{
	struct redis_config rc;
	unix_cfg(&rc);
	snprintf(rc.unix_path, sizeof(rc.unix_path), "%s/nothing.sock", tmpdir);
	struct store *s = store_redis_new(&rc);
	CHECK(s != NULL);
	if (!s)
		return;
	CHECK_INT(store_ping(s), STORE_ERR_CONNECT);
	CHECK(strstr(s->errstr, "connect") != NULL);
	CHECK_INT(store_probe_write(s), STORE_UNREACHABLE);
	struct buf out = BUF_INIT;
	CHECK_INT(store_get(s, "k", 1, 0, &out), STORE_ERR_CONNECT);
	buf_free(&out);
	store_free(s);

	/* TCP: nothing listens on a just-freed loopback port. */
	memset(rc.unix_path, 0, sizeof(rc.unix_path));
	snprintf(rc.host, sizeof(rc.host), "127.0.0.1");
	rc.port = free_port();
	s = store_redis_new(&rc);
	CHECK(s != NULL);
	if (s)
		CHECK_INT(store_ping(s), STORE_ERR_CONNECT);
	store_free(s);
}

/* A loopback listener that never accepts, its queue filled: further SYNs
 * are dropped, so a connect hangs until our timeout. */
static int blackhole(int *port, int *fillers, size_t n_fillers)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	socklen_t len = sizeof(in);
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&in, sizeof(in)) != 0 || listen(fd, 0) != 0 ||
	    getsockname(fd, (struct sockaddr *)&in, &len) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(in.sin_port);
	for (size_t i = 0; i < n_fillers; i++) {
		fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (fillers[i] >= 0)
			(void)connect(fillers[i], (struct sockaddr *)&in, sizeof(in));
	}
	sleep_ms(50);
	return fd;
}

static void test_connect_timeout(void)
{
	int port, fillers[4];
	int lfd = blackhole(&port, fillers, ARRAY_LEN(fillers));
	CHECK(lfd >= 0);
	if (lfd < 0)
		return;
	struct redis_config rc;
	unix_cfg(&rc);
	memset(rc.unix_path, 0, sizeof(rc.unix_path));
	snprintf(rc.host, sizeof(rc.host), "127.0.0.1");
	rc.port = port;
	rc.connect_timeout_ms = 300;
	struct store *s = store_redis_new(&rc);
	int64_t t0 = now_monotonic_ms();
	CHECK_INT(store_ping(s), STORE_ERR_CONNECT);
	int64_t dt = now_monotonic_ms() - t0;
	printf("store: connect to a silent host failed in %lld ms (timeout 300; %s)\n",
		(long long)dt, s->errstr);
	CHECK(dt < 1000);
	store_free(s);

	/* the same silent host as the only sentinel */
	unix_cfg(&rc);
	memset(rc.unix_path, 0, sizeof(rc.unix_path));
	rc.connect_timeout_ms = 300;
	snprintf(rc.sentinels[0].host, sizeof(rc.sentinels[0].host), "127.0.0.1");
	rc.sentinels[0].port = port;
	rc.n_sentinels = 1;
	s = store_redis_new(&rc);
	t0 = now_monotonic_ms();
	CHECK_INT(store_ping(s), STORE_ERR_CONNECT);
	dt = now_monotonic_ms() - t0;
	CHECK(dt < 1000);
	CHECK(strstr(s->errstr, "sentinel") != NULL);
	store_free(s);
	for (size_t i = 0; i < ARRAY_LEN(fillers); i++)
		if (fillers[i] >= 0)
			close(fillers[i]);
	close(lfd);
}

static void test_basic(void)
{
	struct redis_config rc;
	unix_cfg(&rc);
	struct store *s = store_redis_new(&rc);
	struct buf out = BUF_INIT;
	CHECK(s != NULL);
	if (!s)
		return;
	CHECK_INT(store_ping(s), STORE_OK);
	CHECK_INT(store_set(s, "t:basic", 7, "hello", 5, 60, STORE_SET_ALWAYS), STORE_OK);
	CHECK_INT(store_get(s, "t:basic", 7, 0, &out), STORE_OK);
	CHECK_STR(buf_cstr(&out), "hello");
	CHECK_INT(out.len, 5);

	/* get replaces, not appends */
	CHECK_INT(store_get(s, "t:basic", 7, 0, &out), STORE_OK);
	CHECK_INT(out.len, 5);

	CHECK_INT(store_get(s, "t:missing", 9, 0, &out), STORE_NOT_FOUND);
	CHECK_INT(out.len, 0);
	CHECK_INT(store_get(s, "t:missing", 9, 30, &out), STORE_NOT_FOUND);

	/* binary keys and values, NULs included */
	static const char key[] = { 'b', '\0', 'k' };
	static const char val[] = { '\0', 'a', '\0', '\r', '\n', (char)0xff, '\0' };
	CHECK_INT(store_set(s, key, sizeof(key), val, sizeof(val), 60, STORE_SET_ALWAYS), STORE_OK);
	CHECK_INT(store_get(s, key, sizeof(key), 0, &out), STORE_OK);
	CHECK_INT(out.len, sizeof(val));
	CHECK(out.len == sizeof(val) && memcmp(out.data, val, sizeof(val)) == 0);
	CHECK_INT(store_get(s, "b", 1, 0, &out), STORE_NOT_FOUND); /* key not cut at NUL */

	/* empty value is a value, not "not found" */
	CHECK_INT(store_set(s, "t:empty", 7, "", 0, 60, STORE_SET_ALWAYS), STORE_OK);
	CHECK_INT(store_get(s, "t:empty", 7, 0, &out), STORE_OK);
	CHECK_INT(out.len, 0);

	/* getdel: single use */
	CHECK_INT(store_set(s, "t:once", 6, "v1", 2, 60, STORE_SET_ALWAYS), STORE_OK);
	CHECK_INT(store_getdel(s, "t:once", 6, &out), STORE_OK);
	CHECK_STR(buf_cstr(&out), "v1");
	CHECK_INT(store_getdel(s, "t:once", 6, &out), STORE_NOT_FOUND);
	CHECK_INT(store_get(s, "t:once", 6, 0, &out), STORE_NOT_FOUND);

	/* NX: a single-use marker is written once; XX: only over a live key */
	CHECK_INT(store_set(s, "t:nx", 4, "m1", 2, 60, STORE_SET_NX), STORE_OK);
	CHECK_INT(store_set(s, "t:nx", 4, "m2", 2, 60, STORE_SET_NX), STORE_EXISTS);
	CHECK_INT(store_get(s, "t:nx", 4, 0, &out), STORE_OK);
	CHECK_STR(buf_cstr(&out), "m1");
	CHECK_INT(store_set(s, "t:xx", 4, "x1", 2, 60, STORE_SET_XX), STORE_NOT_FOUND);
	CHECK_INT(store_get(s, "t:xx", 4, 0, &out), STORE_NOT_FOUND);
	CHECK_INT(store_set(s, "t:nx", 4, "m3", 2, 60, STORE_SET_XX), STORE_OK);
	CHECK_INT(store_get(s, "t:nx", 4, 0, &out), STORE_OK);
	CHECK_STR(buf_cstr(&out), "m3");
	CHECK_INT(store_del(s, "t:nx", 4), STORE_OK);
	CHECK_STR(store_strerror(STORE_EXISTS), "already exists");

	/* del: idempotent */
	CHECK_INT(store_del(s, "t:basic", 7), STORE_OK);
	CHECK_INT(store_get(s, "t:basic", 7, 0, &out), STORE_NOT_FOUND);
	CHECK_INT(store_del(s, "t:basic", 7), STORE_OK);

	/* a bad ttl is refused before it reaches the server */
	CHECK_INT(store_set(s, "t:ttl0", 6, "v", 1, 0, STORE_SET_ALWAYS), STORE_ERR_REPLY);
	CHECK_INT(store_get(s, "t:ttl0", 6, 0, &out), STORE_NOT_FOUND);

	/* a large value */
	size_t big = 1 << 20;
	char *blob = malloc(big);
	CHECK(blob != NULL);
	if (blob) {
		for (size_t i = 0; i < big; i++)
			blob[i] = (char)(i * 31);
		CHECK_INT(store_set(s, "t:big", 5, blob, big, 60, STORE_SET_ALWAYS), STORE_OK);
		CHECK_INT(store_get(s, "t:big", 5, 0, &out), STORE_OK);
		CHECK(out.len == big && memcmp(out.data, blob, big) == 0);
		free(blob);
	}
	buf_free(&out);
	store_free(s);
}

static void test_ttl(void)
{
	struct redis_config rc;
	unix_cfg(&rc);
	struct store *s = store_redis_new(&rc);
	redisContext *adm = admin_unix();
	struct buf out = BUF_INIT;
	CHECK(s != NULL && adm != NULL && !adm->err);
	if (!s || !adm || adm->err)
		goto done;
	CHECK_INT(store_set(s, "t:refresh", 9, "a", 1, 1, STORE_SET_ALWAYS), STORE_OK);
	CHECK_INT(store_set(s, "t:plain", 7, "b", 1, 1, STORE_SET_ALWAYS), STORE_OK);
	const char *ttl1[] = { "PTTL", "t:refresh" };
	CHECK(admin_int(adm, 2, ttl1) <= 1000);
	/* GETEX refreshes, plain GET does not */
	CHECK_INT(store_get(s, "t:refresh", 9, 5, &out), STORE_OK);
	CHECK_STR(buf_cstr(&out), "a");
	long long pttl = admin_int(adm, 2, ttl1);
	CHECK(pttl > 4000 && pttl <= 5000);
	CHECK_INT(store_get(s, "t:plain", 7, 0, &out), STORE_OK);
	sleep_ms(1500);
	CHECK_INT(store_get(s, "t:refresh", 9, 0, &out), STORE_OK);
	CHECK_INT(store_get(s, "t:plain", 7, 0, &out), STORE_NOT_FOUND);
done:
	buf_free(&out);
	if (adm)
		redisFree(adm);
	store_free(s);
}

static void test_restart(void)
{
	struct redis_config rc;
	unix_cfg(&rc);
	struct store *s = store_redis_new(&rc);
	struct buf out = BUF_INIT;
	CHECK(s != NULL);
	if (!s)
		return;
	CHECK_INT(store_set(s, "t:r", 3, "x", 1, 60, STORE_SET_ALWAYS), STORE_OK);

	kill_child(redis_pid);
	redis_pid = -1;
	/* the first call finds the old connection dead, reconnects once and
	 * fails to connect (SIGPIPE ignored, as worker_main does) */
	int64_t t0 = now_monotonic_ms();
	enum store_err e = store_get(s, "t:r", 3, 0, &out);
	int64_t dt = now_monotonic_ms() - t0;
	CHECK(e == STORE_ERR_CONNECT || e == STORE_ERR_IO);
	CHECK(dt < 2000);
	printf("store: call after SIGKILL failed in %lld ms (%s: %s)\n", (long long)dt,
		store_strerror(e), s->errstr);
	t0 = now_monotonic_ms();
	CHECK_INT(store_ping(s), STORE_ERR_CONNECT);
	CHECK_INT(store_set(s, "t:r", 3, "y", 1, 60, STORE_SET_ALWAYS), STORE_ERR_CONNECT);
	CHECK(now_monotonic_ms() - t0 < 2000);

	CHECK_INT(start_unix_redis(), 0);
	/* same object, no recreation */
	CHECK_INT(store_ping(s), STORE_OK);
	CHECK_INT(store_set(s, "t:r", 3, "z", 1, 60, STORE_SET_ALWAYS), STORE_OK);

	/* a restart between two calls: the stale connection is replaced
	 * within the same call */
	kill_child(redis_pid);
	CHECK_INT(start_unix_redis(), 0);
	CHECK_INT(store_get(s, "t:r", 3, 0, &out), STORE_NOT_FOUND); /* no persistence */
	CHECK_INT(store_set(s, "t:r", 3, "w", 1, 60, STORE_SET_ALWAYS), STORE_OK);
	CHECK_INT(store_get(s, "t:r", 3, 0, &out), STORE_OK);
	CHECK_STR(buf_cstr(&out), "w");
	buf_free(&out);
	store_free(s);
}

static void test_auth(void)
{
	struct redis_config rc;
	redisContext *adm = admin_unix();
	struct store *good = NULL, *bad = NULL, *none = NULL, *user = NULL, *ubad = NULL;
	struct buf out = BUF_INIT;
	CHECK(adm != NULL && !adm->err);
	if (!adm || adm->err)
		goto done;
	CHECK_INT(ADMIN(adm, "CONFIG", "SET", "requirepass", "s3cret pw"), 0);
	CHECK_INT(ADMIN(adm, "ACL", "SETUSER", "alice", "on", ">alice-pw", "~*", "+@all"), 0);

	unix_cfg(&rc);
	snprintf(rc.password, sizeof(rc.password), "s3cret pw");
	good = store_redis_new(&rc);
	CHECK_INT(store_set(good, "t:auth", 6, "ok", 2, 60, STORE_SET_ALWAYS), STORE_OK);

	snprintf(rc.password, sizeof(rc.password), "wrong");
	bad = store_redis_new(&rc);
	CHECK_INT(store_get(bad, "t:auth", 6, 0, &out), STORE_ERR_CONNECT);
	CHECK(strstr(bad->errstr, "WRONGPASS") != NULL);
	CHECK(strstr(bad->errstr, "wrong") == NULL); /* no secrets in errstr */
	CHECK_INT(store_ping(bad), STORE_ERR_CONNECT);

	unix_cfg(&rc);
	none = store_redis_new(&rc);
	CHECK_INT(store_get(none, "t:auth", 6, 0, &out), STORE_ERR_REPLY);
	CHECK(strstr(none->errstr, "NOAUTH") != NULL);

	unix_cfg(&rc);
	snprintf(rc.user, sizeof(rc.user), "alice");
	snprintf(rc.password, sizeof(rc.password), "alice-pw");
	user = store_redis_new(&rc);
	CHECK_INT(store_get(user, "t:auth", 6, 0, &out), STORE_OK);
	CHECK_STR(buf_cstr(&out), "ok");

	snprintf(rc.password, sizeof(rc.password), "s3cret pw");
	ubad = store_redis_new(&rc);
	CHECK_INT(store_ping(ubad), STORE_ERR_CONNECT);

	CHECK_INT(ADMIN(adm, "ACL", "DELUSER", "alice"), 0);
	CHECK_INT(ADMIN(adm, "CONFIG", "SET", "requirepass", ""), 0);
done:
	buf_free(&out);
	store_free(good);
	store_free(bad);
	store_free(none);
	store_free(user);
	store_free(ubad);
	if (adm)
		redisFree(adm);
}

static void test_db(void)
{
	struct redis_config rc;
	struct buf out = BUF_INIT;
	unix_cfg(&rc);
	rc.db = 1;
	struct store *s1 = store_redis_new(&rc);
	rc.db = 0;
	struct store *s0 = store_redis_new(&rc);
	rc.db = 999;
	struct store *sbad = store_redis_new(&rc);
	CHECK(s1 && s0 && sbad);
	if (!s1 || !s0 || !sbad)
		goto done;
	CHECK_INT(store_set(s1, "t:db", 4, "one", 3, 60, STORE_SET_ALWAYS), STORE_OK);
	CHECK_INT(store_get(s0, "t:db", 4, 0, &out), STORE_NOT_FOUND);
	CHECK_INT(store_get(s1, "t:db", 4, 0, &out), STORE_OK);
	CHECK_STR(buf_cstr(&out), "one");
	CHECK_INT(store_ping(sbad), STORE_ERR_CONNECT);
	CHECK(strstr(sbad->errstr, "SELECT") != NULL);
done:
	buf_free(&out);
	store_free(s1);
	store_free(s0);
	store_free(sbad);
}

static void test_timeout(void)
{
	struct redis_config rc;
	struct buf out = BUF_INIT;
	unix_cfg(&rc);
	rc.command_timeout_ms = 300;
	struct store *s = store_redis_new(&rc);
	redisContext *adm = admin_unix();
	CHECK(s && adm && !adm->err);
	if (!s || !adm || adm->err)
		goto done;
	CHECK_INT(store_ping(s), STORE_OK);

	/* the server stops answering for 1.5 s; send without waiting */
	int done_w = 0;
	CHECK_INT(redisAppendCommand(adm, "DEBUG SLEEP 1.5"), REDIS_OK);
	while (!done_w)
		if (redisBufferWrite(adm, &done_w) != REDIS_OK)
			break;
	sleep_ms(50);

	int64_t t0 = now_monotonic_ms();
	CHECK_INT(store_get(s, "t:x", 3, 0, &out), STORE_ERR_IO);
	int64_t dt = now_monotonic_ms() - t0;
	printf("store: GET against a sleeping server failed in %lld ms (timeout 300; %s)\n",
		(long long)dt, s->errstr);
	CHECK(dt >= 250 && dt < 1300);
	CHECK(strstr(s->errstr, "timeout") != NULL);

	redisReply *r = NULL;
	CHECK_INT(redisGetReply(adm, (void **)&r), REDIS_OK);
	if (r)
		freeReplyObject(r);
	/* the same store recovers once the server answers again */
	CHECK_INT(store_ping(s), STORE_OK);
done:
	buf_free(&out);
	if (adm)
		redisFree(adm);
	store_free(s);
}

static void test_error_replies(void)
{
	struct redis_config rc;
	struct buf out = BUF_INIT;
	unix_cfg(&rc);
	struct store *s = store_redis_new(&rc);
	redisContext *adm = admin_unix();
	CHECK(s && adm && !adm->err);
	if (!s || !adm || adm->err)
		goto done;
	CHECK_INT(store_set(s, "t:keep", 6, "kept", 4, 60, STORE_SET_ALWAYS), STORE_OK);

	/* OOM */
	CHECK_INT(ADMIN(adm, "CONFIG", "SET", "maxmemory-policy", "noeviction"), 0);
	CHECK_INT(ADMIN(adm, "CONFIG", "SET", "maxmemory", "1"), 0);
	CHECK_INT(store_set(s, "t:secret-key", 12, "secret-value", 12, 60, STORE_SET_ALWAYS), STORE_ERR_REPLY);
	CHECK_STR(s->errstr, "SET: OOM");
	CHECK(strstr(s->errstr, "secret") == NULL);
	CHECK_INT(store_get(s, "t:keep", 6, 0, &out), STORE_OK); /* reads still work */
	CHECK_INT(store_ping(s), STORE_OK);                       /* and PING: no use */
	CHECK_INT(store_probe_write(s), STORE_FULL);
	CHECK_INT(ADMIN(adm, "CONFIG", "SET", "maxmemory", "0"), 0);
	CHECK_INT(store_probe_write(s), STORE_WRITABLE);
	CHECK_INT(admin_int(adm, 2, (const char *[]){ "TTL", "sgid:health" }) > 0, 1);

	/* NOREPLICAS: min-replicas-to-write not met (no replica at all) */
	CHECK_INT(ADMIN(adm, "CONFIG", "SET", "min-replicas-to-write", "1"), 0);
	CHECK_INT(store_probe_write(s), STORE_NO_REPLICAS);
	CHECK_INT(ADMIN(adm, "CONFIG", "SET", "min-replicas-to-write", "0"), 0);
	CHECK_INT(store_set(s, "t:oom", 5, "v", 1, 60, STORE_SET_ALWAYS), STORE_OK);

	/* READONLY: turn the server into a replica of nothing */
	char port[16];
	snprintf(port, sizeof(port), "%d", free_port());
	CHECK_INT(ADMIN(adm, "REPLICAOF", "127.0.0.1", port), 0);
	CHECK_INT(store_set(s, "t:ro", 4, "v", 1, 60, STORE_SET_ALWAYS), STORE_ERR_REPLY);
	CHECK_STR(s->errstr, "SET: READONLY");
	CHECK_INT(store_get(s, "t:keep", 6, 0, &out), STORE_OK);
	CHECK_INT(store_probe_write(s), STORE_READ_ONLY);
	/* a replica that refuses stale reads: MASTERDOWN, read-only too */
	CHECK_INT(ADMIN(adm, "CONFIG", "SET", "replica-serve-stale-data", "no"), 0);
	CHECK_INT(store_probe_write(s), STORE_READ_ONLY);
	CHECK_INT(ADMIN(adm, "CONFIG", "SET", "replica-serve-stale-data", "yes"), 0);
	CHECK_INT(ADMIN(adm, "REPLICAOF", "NO", "ONE"), 0);
	CHECK_INT(store_probe_write(s), STORE_WRITABLE);
	CHECK_INT(store_set(s, "t:ro", 4, "v", 1, 60, STORE_SET_ALWAYS), STORE_OK);

	/* wrong type: the key holds a list */
	CHECK_INT(ADMIN(adm, "RPUSH", "t:list", "a"), 0);
	CHECK_INT(store_get(s, "t:list", 6, 0, &out), STORE_ERR_REPLY);
	CHECK_STR(s->errstr, "GET: WRONGTYPE");
	CHECK_INT(store_ping(s), STORE_OK); /* connection kept */
done:
	buf_free(&out);
	if (adm)
		redisFree(adm);
	store_free(s);
}

/* A fake sentinel: answers every request with answer_host (127.0.0.1
 * when empty):*answer_port. */
static volatile int *answer_port;
static volatile char *answer_host; /* 64 bytes, shared with the fake */

static pid_t start_fake_sentinel(int *port_out)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	socklen_t len = sizeof(in);
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&in, sizeof(in)) != 0 ||
	    listen(lfd, 16) != 0 || getsockname(lfd, (struct sockaddr *)&in, &len) != 0) {
		if (lfd >= 0)
			close(lfd);
		return -1;
	}
	*port_out = ntohs(in.sin_port);
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(120);
		for (;;) {
			int fd = accept(lfd, NULL, NULL);
			if (fd < 0)
				continue;
			char req[1024], rep[128], p[16];
			struct pollfd pfd = { fd, POLLIN, 0 };
			while (poll(&pfd, 1, 2000) == 1 && read(fd, req, sizeof(req)) > 0) {
				char h[64];
				snprintf(h, sizeof(h), "%s", answer_host[0] ? (const char *)answer_host : "127.0.0.1");
				int pl = snprintf(p, sizeof(p), "%d", *answer_port);
				int n = snprintf(rep, sizeof(rep), "*2\r\n$%zu\r\n%s\r\n$%d\r\n%s\r\n",
					strlen(h), h, pl, p);
				if (write(fd, rep, (size_t)n) != n)
					break;
			}
			close(fd);
		}
	}
	close(lfd);
	if (pid > 0)
		children[n_children++] = pid;
	return pid;
}

static void test_sentinel(void)
{
	int pm = free_port(), pr = free_port(), ps = free_port(), pdead = free_port(), pf = 0;
	pid_t master = -1, replica = -1, sentinel = -1, fake = -1;
	redisContext *am = NULL, *ar = NULL;
	struct store *s = NULL, *s2 = NULL;
	struct buf out = BUF_INIT;
	struct redis_config rc;

	answer_port = mmap(NULL, 128, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(answer_port != MAP_FAILED);
	if (answer_port == MAP_FAILED)
		return;
	answer_host = (volatile char *)answer_port + 64;
	master = start_tcp_redis(pm, 0);
	replica = start_tcp_redis(pr, pm);
	CHECK(master > 0 && replica > 0);
	if (master <= 0 || replica <= 0)
		goto done;

	char conf[256], text[512], psn[16];
	snprintf(conf, sizeof(conf), "%s/sentinel.conf", tmpdir);
	snprintf(psn, sizeof(psn), "%d", ps);
	int n = snprintf(text, sizeof(text),
		"port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor mymaster 127.0.0.1 %d 1\n"
		"sentinel down-after-milliseconds mymaster 60000\n", ps, tmpdir, pm);
	FILE *f = fopen(conf, "w");
	CHECK(f != NULL);
	if (!f)
		goto done;
	fwrite(text, 1, (size_t)n, f);
	fclose(f);
	char *sargv[] = { "redis-server", conf, "--sentinel", NULL };
	sentinel = spawn(sargv, "sentinel.log");
	CHECK(sentinel > 0 && wait_ready(sentinel, NULL, ps) == 0);

	*answer_port = pr; /* the fake points at the replica */
	fake = start_fake_sentinel(&pf);
	CHECK(fake > 0);

	/* dead sentinel, lying sentinel, then the real one */
	memset(&rc, 0, sizeof(rc));
	rc.connect_timeout_ms = 500;
	rc.command_timeout_ms = 1000;
	snprintf(rc.sentinel_master, sizeof(rc.sentinel_master), "mymaster");
	int ports[3] = { pdead, pf, ps };
	for (int i = 0; i < 3; i++) {
		snprintf(rc.sentinels[i].host, sizeof(rc.sentinels[i].host), "127.0.0.1");
		rc.sentinels[i].port = ports[i];
	}
	rc.n_sentinels = 3;
	s = store_redis_new(&rc);
	CHECK_INT(store_set(s, "t:sent", 6, "via-sentinel", 12, 60, STORE_SET_ALWAYS), STORE_OK);
	am = admin_tcp(pm);
	ar = admin_tcp(pr);
	CHECK(am && !am->err && ar && !ar->err);
	if (!am || am->err || !ar || ar->err)
		goto done;
	redisReply *r = redisCommand(am, "GET t:sent");
	CHECK(r && r->type == REDIS_REPLY_STRING && strcmp(r->str, "via-sentinel") == 0);
	if (r)
		freeReplyObject(r);

	/* only the lying sentinel: a replica is never accepted */
	rc.n_sentinels = 2;
	s2 = store_redis_new(&rc);
	CHECK_INT(store_ping(s2), STORE_ERR_CONNECT);
	CHECK(strstr(s2->errstr, "not a master") != NULL);

	/* a hand-made failover: the replica becomes master, the old master a
	 * replica, the fake now names the new master */
	*answer_port = pm;
	CHECK_INT(store_ping(s2), STORE_OK);
	CHECK_INT(ADMIN(ar, "REPLICAOF", "NO", "ONE"), 0);
	snprintf(psn, sizeof(psn), "%d", pr);
	CHECK_INT(ADMIN(am, "REPLICAOF", "127.0.0.1", psn), 0);
	*answer_port = pr;
	/* the first write may land on the demoted master (READONLY) or find
	 * the connection closed by the role change; the next one rediscovers */
	enum store_err e = store_set(s2, "t:fo", 4, "after", 5, 60, STORE_SET_ALWAYS);
	printf("store: first write after failover: %s (%s)\n", store_strerror(e),
		e == STORE_OK ? "-" : s2->errstr);
	if (e != STORE_OK) {
		CHECK_INT(e, STORE_ERR_REPLY);
		CHECK_STR(s2->errstr, "SET: READONLY");
		e = store_set(s2, "t:fo", 4, "after", 5, 60, STORE_SET_ALWAYS);
	}
	CHECK_INT(e, STORE_OK);
	r = redisCommand(ar, "GET t:fo");
	CHECK(r && r->type == REDIS_REPLY_STRING && strcmp(r->str, "after") == 0);
	if (r)
		freeReplyObject(r);
	CHECK_INT(store_get(s2, "t:fo", 4, 0, &out), STORE_OK);

	/* REDIS_SENTINEL_ALLOWED_HOSTS: a master the sentinel names elsewhere
	 * is never connected to (nor sent AUTH), whatever answers there; the
	 * sentinels' own host and the listed ones are */
	store_free(s2);
	rc.n_sentinels = 2;
	rc.sentinel_allowlist = true;
	rc.n_allowed_names = 0;
	rc.allowed_nets.n = 0;
	snprintf((char *)answer_host, 64, "127.0.0.2");
	s2 = store_redis_new(&rc);
	CHECK_INT(store_ping(s2), STORE_ERR_CONNECT);
	CHECK(strstr(s2->errstr, "named a master on 127.0.0.2, a host not allowed") != NULL);
	const char *why;
	CHECK_INT(cidr_parse("127.0.0.2/32", 12, &rc.allowed_nets.v[0], &why), 0);
	rc.allowed_nets.n = 1;
	store_free(s2);
	s2 = store_redis_new(&rc);
	enum store_err pe = store_ping(s2);
	CHECK(pe == STORE_OK || strstr(s2->errstr, "not allowed") == NULL); /* tried: allowed */
	answer_host[0] = '\0';              /* 127.0.0.1: the sentinels' own host */
	rc.allowed_nets.n = 0;
	store_free(s2);
	s2 = store_redis_new(&rc);
	CHECK_INT(store_ping(s2), STORE_OK);
done:
	buf_free(&out);
	store_free(s);
	store_free(s2);
	if (am)
		redisFree(am);
	if (ar)
		redisFree(ar);
	kill_child(fake);
	kill_child(sentinel);
	kill_child(replica);
	kill_child(master);
	munmap((void *)answer_port, sizeof(int));
}

/* The index scripts on a real Redis: add with eviction (never of the
 * record added, dead entries pruned first) and the index's TTL, move,
 * delete, count with pruning, purge. Keys share one {tag}; scores are
 * expiries in ms, the add's "now" the cutoff. */
static void test_index(void)
{
	struct redis_config rc;
	unix_cfg(&rc);
	struct store *s = store_redis_new(&rc);
	redisContext *adm = admin_unix();
	struct buf out = BUF_INIT;
	long long n = -1;
	int ev = -1;
	CHECK(s != NULL && adm != NULL && !adm->err);
	if (!s || !adm || adm->err)
		goto done;
	const char *idx = "sgid:i:{t1}";
	CHECK_INT(store_index_add(s, idx, "sgid:s:{t1}a", "A", 1, 60, 1000, 0, 2, 120, &ev), STORE_OK);
	CHECK_INT(ev, 0);
	CHECK_INT(store_index_add(s, idx, "sgid:s:{t1}b", "B", 1, 60, 1001, 0, 2, 120, &ev), STORE_OK);
	CHECK_INT(store_index_add(s, idx, "sgid:s:{t1}c", "C", 1, 60, 1002, 0, 2, 120, &ev), STORE_OK);
	CHECK_INT(ev, 1); /* the oldest, a, ended */
	CHECK_INT(store_get(s, "sgid:s:{t1}a", 12, 0, &out), STORE_NOT_FOUND);
	CHECK_INT(store_get(s, "sgid:s:{t1}c", 12, 0, &out), STORE_OK);
	const char *card[] = { "ZCARD", idx };
	CHECK_INT(admin_int(adm, 2, card), 2);
	const char *ttl[] = { "TTL", idx };
	long long t = admin_int(adm, 2, ttl);
	CHECK(t > 100 && t <= 120);
	/* a shorter idx ttl never shortens it; entries expired by now go */
	CHECK_INT(store_index_add(s, idx, "sgid:s:{t1}d", "D", 1, 60, 2000, 1001, 5, 10, &ev), STORE_OK);
	CHECK(admin_int(adm, 2, ttl) > 100);
	CHECK_INT(admin_int(adm, 2, card), 2); /* c and d */
	/* equal scores: the record just written is never the one evicted,
	 * whatever its name sorts as */
	CHECK_INT(store_index_add(s, "sgid:i:{t2}", "sgid:s:{t2}z", "Z", 1, 60, 5000, 0, 1, 120, &ev),
	          STORE_OK);
	CHECK_INT(store_index_add(s, "sgid:i:{t2}", "sgid:s:{t2}a", "A", 1, 60, 5000, 0, 1, 120, &ev),
	          STORE_OK);
	CHECK_INT(ev, 1);
	CHECK_INT(store_get(s, "sgid:s:{t2}a", 12, 0, &out), STORE_OK);
	CHECK_INT(store_get(s, "sgid:s:{t2}z", 12, 0, &out), STORE_NOT_FOUND);
	/* entries whose record idled out do not count: the live one stays */
	CHECK_INT(store_index_add(s, "sgid:i:{t2}", "sgid:s:{t2}b", "B", 1, 60, 5001, 0, 2, 120, &ev),
	          STORE_OK);
	CHECK_INT(store_del(s, "sgid:s:{t2}b", 12), STORE_OK);
	CHECK_INT(store_index_add(s, "sgid:i:{t2}", "sgid:s:{t2}c", "C", 1, 60, 5002, 0, 2, 120, &ev),
	          STORE_OK);
	CHECK_INT(ev, 0);
	CHECK_INT(store_get(s, "sgid:s:{t2}a", 12, 0, &out), STORE_OK);
	const char *card2[] = { "ZCARD", "sgid:i:{t2}" };
	CHECK_INT(admin_int(adm, 2, card2), 2); /* a and c */
	CHECK_INT(store_index_scan(s, "sgid:i:{t2}", 1, &n), STORE_OK);
	CHECK_INT(n, 2);
	/* move c to e: the record and its entry */
	CHECK_INT(store_index_move(s, idx, "sgid:s:{t1}c", "sgid:s:{t1}e", "E", 1, 60, 1002), STORE_OK);
	CHECK_INT(store_get(s, "sgid:s:{t1}c", 12, 0, &out), STORE_NOT_FOUND);
	CHECK_INT(store_get(s, "sgid:s:{t1}e", 12, 0, &out), STORE_OK);
	CHECK_STR(buf_cstr(&out), "E");
	/* again: already moved is fine; neither there is "not found" */
	CHECK_INT(store_index_move(s, idx, "sgid:s:{t1}c", "sgid:s:{t1}e", "E", 1, 60, 1002), STORE_OK);
	CHECK_INT(store_index_move(s, idx, "sgid:s:{t1}x", "sgid:s:{t1}y", "Y", 1, 60, 1002), STORE_NOT_FOUND);
	CHECK_INT(store_get(s, "sgid:s:{t1}y", 12, 0, &out), STORE_NOT_FOUND);
	CHECK_INT(store_index_scan(s, idx, 0, &n), STORE_OK);
	CHECK_INT(n, 2);
	/* a record gone by itself is pruned when counted */
	CHECK_INT(store_del(s, "sgid:s:{t1}d", 12), STORE_OK);
	CHECK_INT(store_index_scan(s, idx, 0, &n), STORE_OK);
	CHECK_INT(n, 1);
	CHECK_INT(admin_int(adm, 2, card), 1);
	/* logout: both names, entry gone, empty index gone */
	CHECK_INT(store_index_del(s, idx, "sgid:s:{t1}e", "sgid:s:{t1}c"), STORE_OK);
	const char *exists[] = { "EXISTS", idx, "sgid:s:{t1}e" };
	CHECK_INT(admin_int(adm, 3, exists), 0);
	/* purge */
	CHECK_INT(store_index_add(s, idx, "sgid:s:{t1}f", "F", 1, 60, 3000, 0, 5, 120, &ev), STORE_OK);
	CHECK_INT(store_index_add(s, idx, "sgid:s:{t1}g", "G", 1, 60, 3001, 0, 5, 120, &ev), STORE_OK);
	CHECK_INT(store_index_scan(s, idx, 1, &n), STORE_OK);
	CHECK_INT(n, 2);
	const char *exists2[] = { "EXISTS", idx, "sgid:s:{t1}f", "sgid:s:{t1}g" };
	CHECK_INT(admin_int(adm, 4, exists2), 0);
	CHECK_INT(store_index_scan(s, idx, 1, &n), STORE_OK);
	CHECK_INT(n, 0);
	/* more members than one script declares: counted and purged in
	 * batches, the dead ones pruned on the way */
	char key[64];
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "sgid:s:{t3}%03d", i);
		CHECK_INT(store_index_add(s, "sgid:i:{t3}", key, "V", 1, 60, 9000 + i, 0, 1000, 120, &ev),
		          STORE_OK);
	}
	for (int i = 0; i < 100; i += 10) {
		snprintf(key, sizeof(key), "sgid:s:{t3}%03d", i);
		CHECK_INT(store_del(s, key, strlen(key)), STORE_OK);
	}
	CHECK_INT(store_index_scan(s, "sgid:i:{t3}", 0, &n), STORE_OK);
	CHECK_INT(n, 90);
	const char *card3[] = { "ZCARD", "sgid:i:{t3}" };
	CHECK_INT(admin_int(adm, 2, card3), 90);
	CHECK_INT(store_index_scan(s, "sgid:i:{t3}", 1, &n), STORE_OK);
	CHECK_INT(n, 90);
	const char *dbsize[] = { "EXISTS", "sgid:i:{t3}", "sgid:s:{t3}001", "sgid:s:{t3}099" };
	CHECK_INT(admin_int(adm, 4, dbsize), 0);
	/* refused before any call */
	CHECK_INT(store_index_add(s, idx, "sgid:s:{t1}h", "H", 1, 0, 1, 0, 5, 120, &ev), STORE_ERR_REPLY);
done:
	buf_free(&out);
	if (adm)
		redisFree(adm);
	store_free(s);
}

int main(void)
{
	server_ignore_sigpipe();
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sgid-store-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	atexit(cleanup);
	snprintf(sock_path, sizeof(sock_path), "%s/redis.sock", tmpdir);

	RUN(test_strerror);
	RUN(test_lazy_unreachable);
	RUN(test_connect_timeout);
	if (start_unix_redis() != 0) {
		CHECK(!"redis-server started");
		return harness_report("test_store");
	}
	RUN(test_basic);
	RUN(test_ttl);
	RUN(test_index);
	RUN(test_auth);
	RUN(test_db);
	RUN(test_timeout);
	RUN(test_error_replies);
	RUN(test_restart);
	RUN(test_sentinel);
	return harness_report("test_store");
}
