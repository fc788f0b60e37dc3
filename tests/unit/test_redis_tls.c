/* rediss:// against a real redis-server with tls-port and a throw-away CA
 * made by tests/tls/make-certs.sh for this run: verified connections (by
 * address, by name, REDIS_TLS_SERVER_NAME), AUTH over TLS, every bad
 * certificate the issue names (wrong name, expired, unknown CA, a plain
 * port on a rediss:// URL) refused with a clear reason, health's
 * redis_tls, and no AUTH ever reaching Redis then; client certificates;
 * a stalled handshake bounded by the connect timeout; a server that
 * closes mid-record; session resumption on reconnect; Sentinel over TLS.
 * The certificate a server shows is swapped with CONFIG SET, as Redis
 * allows at run time. */
#define _XOPEN_SOURCE 700 /* posix_openpt: a terminal for one test */
#include "cluster_slots.h"
#include "store.h"
#include "server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "redis_proc.h"
#include "redis_topology.h"
#include "tls.h"
#include "util.h"

static char certs[96];
static int tls_port, plain_port;
static redisContext *adm;            /* unix socket, no TLS, default user */

static void cert_path(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", certs, name);
}

static int make_certs(void)
{
	char cmd[256];
	snprintf(certs, sizeof(certs), "%s/certs", tmpdir);
	snprintf(cmd, sizeof(cmd), "sh tests/tls/make-certs.sh %s", certs);
	return system(cmd) == 0 ? 0 : -1;
}

static int start_tls_redis(void)
{
	char tp[16], pp[16], cert[160], key[160], ca[160];
	tls_port = free_port();
	plain_port = free_port();
	snprintf(tp, sizeof(tp), "%d", tls_port);
	snprintf(pp, sizeof(pp), "%d", plain_port);
	cert_path(cert, sizeof(cert), "server.pem");
	cert_path(key, sizeof(key), "server.key");
	cert_path(ca, sizeof(ca), "ca.pem");
	char *argv[] = { "redis-server", "--port", pp, "--bind", "127.0.0.1",
		"--tls-port", tp, "--tls-cert-file", cert, "--tls-key-file", key,
		"--tls-ca-cert-file", ca, "--tls-auth-clients", "no",
		"--unixsocket", sock_path, "--save", "", "--appendonly", "no", "--dir", tmpdir,
		"--user", "sgid", "on", ">tls-secret-pw", "~*", "&*", "+@all", NULL };
	redis_pid = spawn(argv, "redis-tls.log");
	if (redis_pid < 0 || wait_ready(redis_pid, sock_path, 0) != 0)
		return -1;
	adm = admin_unix();
	return adm && !adm->err ? 0 : -1;
}

/* The certificate the TLS port shows from now on (e.g. "expired"). */
static int show_cert(const char *name)
{
	char cert[160], key[160], f[64];
	snprintf(f, sizeof(f), "%s.pem", name);
	cert_path(cert, sizeof(cert), f);
	snprintf(f, sizeof(f), "%s.key", name);
	cert_path(key, sizeof(key), f);
	return ADMIN(adm, "CONFIG", "SET", "tls-cert-file", cert, "tls-key-file", key);
}

/* How many AUTH commands Redis has seen (INFO commandstats). */
static long auth_calls(void)
{
	redisReply *r = redisCommand(adm, "INFO commandstats");
	long n = 0;
	if (r && r->type == REDIS_REPLY_STRING) {
		const char *p = strstr(r->str, "cmdstat_auth:calls=");
		if (p)
			n = strtol(p + strlen("cmdstat_auth:calls="), NULL, 10);
	}
	if (r)
		freeReplyObject(r);
	return n;
}

static void tls_cfg(struct redis_config *rc, const char *host, int port)
{
	memset(rc, 0, sizeof(*rc));
	snprintf(rc->host, sizeof(rc->host), "%s", host);
	rc->port = port;
	rc->tls = true;
	cert_path(rc->tls_ca_file, sizeof(rc->tls_ca_file), "ca.pem");
	snprintf(rc->user, sizeof(rc->user), "sgid");
	snprintf(rc->password, sizeof(rc->password), "tls-secret-pw");
	rc->connect_timeout_ms = 500;
	rc->command_timeout_ms = 1000;
	snprintf(rc->sentinel_master, sizeof(rc->sentinel_master), "mymaster");
}

static void test_verified(void)
{
	struct redis_config rc;
	struct buf out = BUF_INIT;
	static const char *const hosts[] = { "127.0.0.1", "localhost" };
	for (size_t i = 0; i < ARRAY_LEN(hosts); i++) {
		tls_cfg(&rc, hosts[i], tls_port);
		long before = auth_calls();
		struct store *s = store_redis_new(&rc);
		CHECK_INT(store_set(s, "tls:k", 5, "v1", 2, 60, STORE_SET_ALWAYS), STORE_OK);
		CHECK_INT(store_get(s, "tls:k", 5, 0, &out), STORE_OK);
		CHECK_STR(buf_cstr(&out), "v1");
		CHECK_INT(store_probe_write(s), STORE_WRITABLE);
		CHECK_INT(auth_calls(), before + 1);
		store_free(s);
	}
	/* REDIS_TLS_SERVER_NAME: the name checked, whatever the host */
	tls_cfg(&rc, "127.0.0.1", tls_port);
	snprintf(rc.tls_server_name, sizeof(rc.tls_server_name), "redis.test");
	struct store *s = store_redis_new(&rc);
	CHECK_INT(store_ping(s), STORE_OK);
	store_free(s);
	buf_free(&out);
}

/* One refused connection: the reason in errstr, health's redis_tls, and
 * no AUTH reached Redis. */
static void expect_refused(struct redis_config *rc, const char *why)
{
	long before = auth_calls();
	struct store *s = store_redis_new(rc);
	int64_t t0 = now_monotonic_ms();
	CHECK_INT(store_ping(s), STORE_ERR_CONNECT);
	CHECK(strstr(s->errstr, why) != NULL);
	CHECK(strstr(s->errstr, "tls-secret-pw") == NULL);
	printf("tls: %s\n", s->errstr);
	CHECK_INT(store_probe_write(s), STORE_TLS_FAILED);
	CHECK(now_monotonic_ms() - t0 < 2000);
	CHECK_INT(auth_calls(), before);
	store_free(s);
}

static void test_bad_certificates(void)
{
	struct redis_config rc;
	tls_cfg(&rc, "127.0.0.1", tls_port);
	snprintf(rc.tls_server_name, sizeof(rc.tls_server_name), "other.example");
	expect_refused(&rc, "certificate verify failed: hostname mismatch");

	tls_cfg(&rc, "127.0.0.1", tls_port);
	CHECK_INT(show_cert("wrongname"), 0);
	expect_refused(&rc, "certificate verify failed: IP address mismatch");
	tls_cfg(&rc, "localhost", tls_port);
	expect_refused(&rc, "certificate verify failed: hostname mismatch");

	tls_cfg(&rc, "127.0.0.1", tls_port);
	CHECK_INT(show_cert("expired"), 0);
	expect_refused(&rc, "certificate verify failed: certificate has expired");

	CHECK_INT(show_cert("unknown"), 0);
	expect_refused(&rc, "certificate verify failed: unable to get local issuer certificate");
	/* no CA file: the system store does not know the test CA either */
	CHECK_INT(show_cert("server"), 0);
	rc.tls_ca_file[0] = '\0';
	expect_refused(&rc, "certificate verify failed: ");

	/* a plain Redis port on a rediss:// URL */
	tls_cfg(&rc, "127.0.0.1", plain_port);
	expect_refused(&rc, "a plain Redis port on a rediss:// URL?");

	/* REDIS_TLS_INSECURE_SKIP_VERIFY: anything goes, even an unknown CA */
	CHECK_INT(show_cert("unknown"), 0);
	tls_cfg(&rc, "127.0.0.1", tls_port);
	rc.tls_insecure = true;
	struct store *s = store_redis_new(&rc);
	CHECK_INT(store_ping(s), STORE_OK);
	store_free(s);
	CHECK_INT(show_cert("server"), 0);

	/* a CA file that is no PEM: every connect says so */
	tls_cfg(&rc, "127.0.0.1", tls_port);
	cert_path(rc.tls_ca_file, sizeof(rc.tls_ca_file), "ca.srl");
	expect_refused(&rc, "cannot read the CA file");
}

static void test_client_certificate(void)
{
	struct redis_config rc;
	CHECK_INT(ADMIN(adm, "CONFIG", "SET", "tls-auth-clients", "yes"), 0);
	tls_cfg(&rc, "127.0.0.1", tls_port);
	long before = auth_calls();
	struct store *s = store_redis_new(&rc);
	CHECK(store_ping(s) != STORE_OK);
	printf("tls: without a client certificate: %s\n", s->errstr);
	store_free(s);
	CHECK_INT(auth_calls(), before);
	cert_path(rc.tls_cert_file, sizeof(rc.tls_cert_file), "client.pem");
	cert_path(rc.tls_key_file, sizeof(rc.tls_key_file), "client.key");
	s = store_redis_new(&rc);
	CHECK_INT(store_ping(s), STORE_OK);
	store_free(s);
	CHECK_INT(ADMIN(adm, "CONFIG", "SET", "tls-auth-clients", "no"), 0);
}

/* An encrypted client key (REDIS_TLS_KEY_FILE) is a clear error, never a
 * passphrase prompt: OpenSSL's default callback reads the controlling
 * terminal, so a pool started from a shell would wait there, once per
 * request thread. The child below has a terminal nobody types into. */
static void test_encrypted_client_key(void)
{
	char cmd[512], key[160], enc[160], cert[160], ca[160], err[200] = "";
	cert_path(key, sizeof(key), "client.key");
	cert_path(enc, sizeof(enc), "client-encrypted.key");
	cert_path(cert, sizeof(cert), "client.pem");
	cert_path(ca, sizeof(ca), "ca.pem");
	snprintf(cmd, sizeof(cmd), "openssl pkey -in %s -aes256 -passout pass:secret-pw -out %s", key, enc);
	CHECK_INT(system(cmd), 0);
	int fds[2];
	CHECK(pipe(fds) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		int m = posix_openpt(O_RDWR | O_NOCTTY);
		if (setsid() < 0 || m < 0 || grantpt(m) != 0 || unlockpt(m) != 0 ||
		    open(ptsname(m), O_RDWR) < 0) { /* our controlling terminal now */
			/* no pseudo-terminal here: the error is still checked */
			printf("tls: no pseudo-terminal for the passphrase test\n");
			if (!freopen("/dev/null", "r", stdin))
				_exit(3);
		}
		struct tls_client_config tc = { ca, cert, enc, false };
		struct tls_client *c = tls_client_new(&tc, err, sizeof(err));
		(void)!write(fds[1], err, strlen(err));
		_exit(c ? 1 : 0);
	}
	close(fds[1]);
	int status = -1;
	int64_t deadline = now_monotonic_ms() + 5000;
	while (waitpid(pid, &status, WNOHANG) == 0 && now_monotonic_ms() < deadline)
		usleep(20000);
	if (!WIFEXITED(status) && !WIFSIGNALED(status)) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		CHECK(!"tls_client_new answered, not waiting for a passphrase on the terminal");
	} else {
		ssize_t n = read(fds[0], err, sizeof(err) - 1);
		err[n > 0 ? n : 0] = '\0';
		printf("tls: encrypted client key: %s\n", err);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		CHECK(strstr(err, "encrypted") && strstr(err, "REDIS_TLS_KEY_FILE"));
	}
	close(fds[0]);
}

/* A listening loopback socket on a free port; -1 on failure. */
static int listen_loopback(int *port)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	socklen_t len = sizeof(in);
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok = lfd >= 0 && bind(lfd, (struct sockaddr *)&in, sizeof(in)) == 0 &&
		listen(lfd, 4) == 0 && getsockname(lfd, (struct sockaddr *)&in, &len) == 0;
	CHECK(ok);
	*port = ntohs(in.sin_port);
	return ok ? lfd : -1;
}

/* A server that accepts TCP and never answers the ClientHello. */
static void test_stalled_handshake(void)
{
	int port;
	int lfd = listen_loopback(&port);
	struct redis_config rc;
	tls_cfg(&rc, "127.0.0.1", port);
	rc.connect_timeout_ms = 300;
	rc.command_timeout_ms = 5000;
	struct store *s = store_redis_new(&rc);
	int64_t t0 = now_monotonic_ms();
	CHECK_INT(store_ping(s), STORE_ERR_CONNECT);
	int64_t took = now_monotonic_ms() - t0;
	CHECK(took >= 250 && took < 1000);
	CHECK(strstr(s->errstr, "TLS handshake: timeout") != NULL);
	printf("tls: stalled handshake: %s after %lld ms\n", s->errstr, (long long)took);
	CHECK_INT(store_probe_write(s), STORE_TLS_FAILED);
	store_free(s);
	close(lfd);
}

/* A proxy between the store and the TLS port: once *cut is 1, it passes
 * half of the server's next record and closes both sides (the client must
 * see a lost connection, not wait for the timeout, and come back); while
 * *cut is 2 it swallows what the server sends (a stalled reply: the
 * command timeout, no hang). */
static void half_record_proxy(int lfd, int upstream_port, volatile int *cut, int *pid_out)
{
	pid_t pid = fork();
	if (pid != 0) {
		*pid_out = pid;
		if (pid > 0)
			children[n_children++] = pid;
		return;
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;) {
		int c = accept(lfd, NULL, NULL);
		if (c < 0)
			_exit(1);
		struct sockaddr_in up = { .sin_family = AF_INET };
		up.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		up.sin_port = htons((uint16_t)upstream_port);
		int u = socket(AF_INET, SOCK_STREAM, 0);
		if (u < 0 || connect(u, (struct sockaddr *)&up, sizeof(up)) != 0)
			_exit(1);
		struct pollfd p[2] = { { c, POLLIN, 0 }, { u, POLLIN, 0 } };
		for (;;) {
			char b[16384];
			if (poll(p, 2, 10000) <= 0)
				break;
			if (p[0].revents) {
				ssize_t n = read(c, b, sizeof(b));
				if (n <= 0 || write(u, b, (size_t)n) != n)
					break;
			}
			if (p[1].revents) {
				ssize_t n = read(u, b, sizeof(b));
				if (n <= 0)
					break;
				if (*cut == 2)
					continue;
				if (*cut == 1 && n > 8) {
					*cut = 0;
					(void)!write(c, b, (size_t)n / 2);
					break;
				}
				if (write(c, b, (size_t)n) != n)
					break;
			}
		}
		close(c);
		close(u);
	}
}

static void test_close_mid_record_and_resumption(void)
{
	int port;
	int lfd = listen_loopback(&port);
	int pid = -1;
	volatile int *cut = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE,
		MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(cut != MAP_FAILED);
	if (cut == MAP_FAILED)
		return;
	*cut = 0;
	half_record_proxy(lfd, tls_port, cut, &pid);
	close(lfd);
	struct redis_config rc;
	tls_cfg(&rc, "127.0.0.1", port);
	rc.command_timeout_ms = 3000;
	struct store *s = store_redis_new(&rc);
	struct buf out = BUF_INIT;
	CHECK_INT(store_set(s, "tls:m", 5, "first", 5, 60, STORE_SET_ALWAYS), STORE_OK);
	*cut = 1;
	int64_t t0 = now_monotonic_ms();
	enum store_err e = store_get(s, "tls:m", 5, 0, &out);
	int64_t took = now_monotonic_ms() - t0;
	printf("tls: cut mid-record: %s (%s) after %lld ms\n", store_strerror(e), s->errstr,
		(long long)took);
	CHECK(took < 1500);          /* no wait for the command timeout */
	/* the lost connection is replaced (here within the call: it was found
	 * dead on first use), by a resumed session */
	CHECK_INT(e, STORE_OK);
	CHECK_STR(buf_cstr(&out), "first");
	CHECK_INT(store_get(s, "tls:m", 5, 0, &out), STORE_OK);
	CHECK(redis_impl(s)->tls_resumed >= 1);
	/* the next reconnect (the server drops us) resumes again */
	int resumed = redis_impl(s)->tls_resumed;
	CHECK_INT(ADMIN(adm, "CLIENT", "KILL", "USER", "sgid"), 0);
	CHECK_INT(store_get(s, "tls:m", 5, 0, &out), STORE_OK);
	CHECK_INT(redis_impl(s)->tls_resumed, resumed + 1);
	store_free(s);

	/* a reply that never comes: REDIS_TIMEOUT_MS, as on TCP */
	rc.command_timeout_ms = 400;
	s = store_redis_new(&rc);
	CHECK_INT(store_ping(s), STORE_OK);
	*cut = 2;
	t0 = now_monotonic_ms();
	CHECK_INT(store_get(s, "tls:m", 5, 0, &out), STORE_ERR_IO);
	took = now_monotonic_ms() - t0;
	CHECK_STR(s->errstr, "GET: timeout");
	CHECK(took >= 350 && took < 1500);
	printf("tls: stalled reply: %s after %lld ms\n", s->errstr, (long long)took);
	*cut = 0;
	CHECK_INT(store_get(s, "tls:m", 5, 0, &out), STORE_OK);
	store_free(s);
	buf_free(&out);
	if (pid > 0)
		kill_child(pid);
	munmap((void *)cut, sizeof(int));
}

/* Sentinel over TLS: the sentinel on a tls-port, monitoring the master's
 * tls-port; the store asks it over TLS and gets the master over TLS. */
static void test_sentinel(void)
{
	char conf[160], cert[160], key[160], ca[160];
	int sport = free_port();
	cert_path(cert, sizeof(cert), "server.pem");
	cert_path(key, sizeof(key), "server.key");
	cert_path(ca, sizeof(ca), "ca.pem");
	snprintf(conf, sizeof(conf), "%s/sentinel-tls.conf", tmpdir);
	FILE *f = fopen(conf, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fprintf(f, "port 0\ntls-port %d\nbind 127.0.0.1\ntls-cert-file %s\ntls-key-file %s\n"
		"tls-ca-cert-file %s\ntls-replication yes\ntls-auth-clients no\ndir %s\n"
		"sentinel monitor mymaster 127.0.0.1 %d 1\n"
		"sentinel auth-user mymaster sgid\nsentinel auth-pass mymaster tls-secret-pw\n",
		sport, cert, key, ca, tmpdir, tls_port);
	fclose(f);
	char *argv[] = { "redis-server", conf, "--sentinel", NULL };
	pid_t pid = spawn(argv, "sentinel-tls.log");
	CHECK(pid > 0 && wait_ready(pid, NULL, sport) == 0);
	struct redis_config rc;
	tls_cfg(&rc, "ignored", 1);
	snprintf(rc.sentinels[0].host, sizeof(rc.sentinels[0].host), "127.0.0.1");
	rc.sentinels[0].port = sport;
	rc.n_sentinels = 1;
	long before = auth_calls();
	struct store *s = store_redis_new(&rc);
	struct buf out = BUF_INIT;
	CHECK_INT(store_set(s, "tls:s", 5, "via-sentinel", 12, 60, STORE_SET_ALWAYS), STORE_OK);
	CHECK_INT(store_get(s, "tls:s", 5, 0, &out), STORE_OK);
	CHECK_STR(buf_cstr(&out), "via-sentinel");
	CHECK(auth_calls() > before);
	store_free(s);
	/* a sentinel whose certificate does not verify: refused, no AUTH
	 * anywhere (the master is never reached) */
	snprintf(rc.tls_server_name, sizeof(rc.tls_server_name), "other.example");
	expect_refused(&rc, "sentinel 127.0.0.1");
	buf_free(&out);
	kill_child(pid);
}

/* ---- a 3+3 Redis Cluster over TLS (tls-cluster yes: the bus too) ---- */

#define CL_NODES 6
static int cl_port[CL_NODES];
static redisContext *cl_adm[CL_NODES];

static int cluster_state_ok(void)
{
	for (int i = 0; i < CL_NODES; i++) {
		redisReply *r = redisCommand(cl_adm[i], "CLUSTER INFO");
		int ok = r && r->type == REDIS_REPLY_STRING && strstr(r->str, "cluster_state:ok");
		if (r)
			freeReplyObject(r);
		if (!ok)
			return 0;
	}
	return 1;
}

/* A free port whose cluster bus port (+10000) is free too. */
static int cluster_port(void)
{
	for (int i = 0; i < 200; i++) {
		int p = free_port();
		if (p <= 0 || p > 55535)
			continue;
		struct sockaddr_in in = { .sin_family = AF_INET };
		in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		in.sin_port = htons((uint16_t)(p + 10000));
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		int ok = fd >= 0 && bind(fd, (struct sockaddr *)&in, sizeof(in)) == 0;
		if (fd >= 0)
			close(fd);
		if (ok)
			return p;
	}
	return -1;
}

static int start_tls_cluster(void)
{
	char cert[160], key[160], ca[160], cmd[1024];
	cert_path(cert, sizeof(cert), "server.pem");
	cert_path(key, sizeof(key), "server.key");
	cert_path(ca, sizeof(ca), "ca.pem");
	int n = snprintf(cmd, sizeof(cmd), "timeout 60 redis-cli --tls --cacert %s --cert %s --key %s "
		"--cluster create", ca, cert, key);
	for (int i = 0; i < CL_NODES; i++) {
		char tp[16], dir[96], sock[96], log[32];
		cl_port[i] = cluster_port();
		snprintf(tp, sizeof(tp), "%d", cl_port[i]);
		snprintf(dir, sizeof(dir), "%s/c%d", tmpdir, i);
		snprintf(sock, sizeof(sock), "%s/c%d.sock", tmpdir, i);
		snprintf(log, sizeof(log), "cluster-%d.log", i);
		mkdir(dir, 0700);
		char *argv[] = { "redis-server", "--port", "0", "--bind", "127.0.0.1",
			"--tls-port", tp, "--tls-cert-file", cert, "--tls-key-file", key,
			"--tls-ca-cert-file", ca, "--tls-cluster", "yes", "--tls-replication", "yes",
			"--cluster-enabled", "yes", "--cluster-node-timeout", "2000",
			"--unixsocket", sock, "--save", "", "--appendonly", "no", "--dir", dir,
			"--user", "sgid", "on", ">tls-secret-pw", "~*", "&*", "+@all", NULL };
		pid_t pid = spawn(argv, log);
		if (pid < 0 || wait_ready(pid, sock, 0) != 0)
			return -1;
		struct timeval tv = { 5, 0 };
		cl_adm[i] = redisConnectUnixWithTimeout(sock, tv);
		if (!cl_adm[i] || cl_adm[i]->err)
			return -1;
		n += snprintf(cmd + n, sizeof(cmd) - (size_t)n, " 127.0.0.1:%d", cl_port[i]);
	}
	snprintf(cmd + n, sizeof(cmd) - (size_t)n, " --cluster-replicas 1 --cluster-yes >%s/create.log 2>&1",
		tmpdir);
	if (system(cmd) != 0)
		return -1;
	for (int i = 0; i < 250 && !cluster_state_ok(); i++)
		sleep_ms(40);
	return cluster_state_ok() ? 0 : -1;
}

/* The admin index of the primary serving slot, from CLUSTER SLOTS. */
static int slot_owner(unsigned slot)
{
	redisReply *r = redisCommand(cl_adm[0], "CLUSTER SLOTS");
	int owner = -1;
	for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		redisReply *e = r->element[i];
		if ((unsigned)e->element[0]->integer <= slot && slot <= (unsigned)e->element[1]->integer)
			for (int k = 0; k < CL_NODES; k++)
				if (e->element[2]->element[1]->integer == cl_port[k])
					owner = k;
	}
	if (r)
		freeReplyObject(r);
	return owner;
}

static long node_auth_calls(int i)
{
	redisContext *saved = adm;
	adm = cl_adm[i];
	long n = auth_calls();
	adm = saved;
	return n;
}

static void test_cluster(void)
{
	if (start_tls_cluster() != 0) {
		char cmd[160];
		snprintf(cmd, sizeof(cmd), "tail -n 5 %s/create.log %s/cluster-*.log >&2", tmpdir, tmpdir);
		(void)!system(cmd);
		CHECK(!"a 3+3 cluster over TLS started");
		return;
	}
	struct redis_config rc;
	tls_cfg(&rc, "ignored", 1);
	snprintf(rc.cluster_seeds[0].host, sizeof(rc.cluster_seeds[0].host), "127.0.0.1");
	rc.cluster_seeds[0].port = cl_port[0];
	rc.n_cluster_seeds = 1;
	/* the nodes keep tls-auth-clients yes (the default) */
	cert_path(rc.tls_cert_file, sizeof(rc.tls_cert_file), "client.pem");
	cert_path(rc.tls_key_file, sizeof(rc.tls_key_file), "client.key");
	struct store *s = store_redis_new(&rc);
	struct buf out = BUF_INIT;
	char key[32];
	/* keys over every primary: each reached over TLS, with AUTH */
	int ok = 0;
	for (int i = 0; i < 60; i++) {
		int n = snprintf(key, sizeof(key), "tls:{%d}", i);
		ok += store_set(s, key, (size_t)n, "c", 1, 60, STORE_SET_ALWAYS) == STORE_OK &&
		      store_get(s, key, (size_t)n, 0, &out) == STORE_OK;
	}
	CHECK_INT(ok, 60);
	if (ok != 60)
		printf("tls: cluster: %s\n", s->errstr);
	int primaries_authed = 0;
	for (int i = 0; i < CL_NODES; i++)
		primaries_authed += node_auth_calls(i) > 0;
	CHECK(primaries_authed >= 3);
	CHECK_INT(store_probe_write(s), STORE_WRITABLE);

	/* a redirect over TLS: an empty slot handed to another primary */
	int n = snprintf(key, sizeof(key), "tls:moved:{x}");
	unsigned slot = cluster_key_slot(key, (size_t)n);
	int from = slot_owner(slot), to = -1;
	for (int k = 0; k < CL_NODES && to < 0; k++)
		if (k != from && slot_owner(0) != -1) {
			redisReply *r = redisCommand(cl_adm[k], "ROLE");
			if (r && r->type == REDIS_REPLY_ARRAY && strcmp(r->element[0]->str, "master") == 0)
				to = k;
			if (r)
				freeReplyObject(r);
		}
	CHECK(from >= 0 && to >= 0);
	if (from >= 0 && to >= 0) {
		redisReply *id = redisCommand(cl_adm[to], "CLUSTER MYID");
		char slot_s[8];
		snprintf(slot_s, sizeof(slot_s), "%u", slot);
		for (int k = 0; k < CL_NODES; k++)
			freeReplyObject(redisCommand(cl_adm[k], "CLUSTER SETSLOT %s NODE %s", slot_s, id->str));
		freeReplyObject(id);
		for (int i = 0; i < 100 && slot_owner(slot) != to; i++)
			sleep_ms(20);
		CHECK_INT(store_set(s, key, (size_t)n, "moved", 5, 60, STORE_SET_ALWAYS), STORE_OK);
		redisReply *r = redisCommand(cl_adm[to], "EXISTS %s", key);
		CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1);
		if (r)
			freeReplyObject(r);
	}
	store_free(s);

	/* a node whose certificate does not verify: nothing sent */
	snprintf(rc.tls_server_name, sizeof(rc.tls_server_name), "other.example");
	long before = 0;
	for (int i = 0; i < CL_NODES; i++)
		before += node_auth_calls(i);
	s = store_redis_new(&rc);
	CHECK(store_ping(s) != STORE_OK);
	CHECK(strstr(s->errstr, "certificate verify failed") != NULL);
	CHECK_INT(store_probe_write(s), STORE_TLS_FAILED);
	long after = 0;
	for (int i = 0; i < CL_NODES; i++)
		after += node_auth_calls(i);
	CHECK_INT(after, before);
	printf("tls: cluster: %s\n", s->errstr);
	store_free(s);
	buf_free(&out);
	for (int i = 0; i < CL_NODES; i++)
		redisFree(cl_adm[i]);
}

int main(void)
{
	server_ignore_sigpipe();
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sgid-tls-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	atexit(cleanup);
	snprintf(sock_path, sizeof(sock_path), "%s/redis.sock", tmpdir);
	if (make_certs() != 0 || start_tls_redis() != 0) {
		CHECK(!"certificates made and redis-server started with tls-port");
		return harness_report("test_redis_tls");
	}
	RUN(test_verified);
	RUN(test_bad_certificates);
	RUN(test_client_certificate);
	RUN(test_encrypted_client_key);
	RUN(test_stalled_handshake);
	RUN(test_close_mid_record_and_resumption);
	RUN(test_sentinel);
	RUN(test_cluster);
	redisFree(adm);
	return harness_report("test_redis_tls");
}
