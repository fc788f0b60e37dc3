/* Redis Cluster routing: CRC16 and hash tags against values read from a
 * real redis-server (CLUSTER KEYSLOT), the slot map's limits, redirect
 * texts, and store_redis in cluster mode against fake nodes: a CLUSTER
 * SLOTS reply from a can, MOVED, ASK, TRYAGAIN, CLUSTERDOWN and dead nodes
 * on demand, which a real cluster does not produce when asked. The real
 * behaviour under resharding and failover is tests/faults/cluster.sh. */
#include "cidr.h"
#include "cluster_slots.h"
#include "metrics.h"
#include "store.h"
#include "server.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

static void test_crc16_and_slots(void)
{
	CHECK_INT(cluster_crc16("123456789", 9), 0x31C3);
	/* expected values: CLUSTER KEYSLOT of redis-server 7.0 */
	static const struct { const char *key; unsigned slot; } v[] = {
		{ "123456789", 12739 }, { "foo", 12182 }, { "bar", 5061 }, { "hello", 866 },
		{ "{user1000}.following", 3443 }, { "{user1000}.followers", 3443 },
		{ "foo{}{bar}", 8363 },       /* empty tag: the whole key */
		{ "foo{{bar}}zap", 4015 },    /* tag is "{bar" */
		{ "foo{bar}{zap}", 5061 },    /* first tag only: "bar" */
		{ "{}", 15257 }, { "{", 4092 }, { "a}b{c}", 7365 }, { "", 0 },
	};
	for (size_t i = 0; i < ARRAY_LEN(v); i++)
		CHECK_INT(cluster_key_slot(v[i].key, strlen(v[i].key)), v[i].slot);
	/* binary keys: a NUL inside a tag counts */
	CHECK_INT(cluster_key_slot("x{a\0b}", 6), cluster_crc16("a\0b", 3) % CLUSTER_SLOTS);
}

static void test_slot_map(void)
{
	static struct slot_map m;
	char host[32];
	slot_map_reset(&m);
	CHECK_INT(slot_map_owner(&m, 0), -1);
	CHECK_INT(slot_map_node(&m, "10.0.0.1", 8, 7000), 0);
	CHECK_INT(slot_map_node(&m, "10.0.0.2", 8, 7000), 1);
	CHECK_INT(slot_map_node(&m, "10.0.0.1", 8, 7000), 0); /* known: same index */
	CHECK_INT(slot_map_node(&m, "", 0, 7000), -1);
	CHECK_INT(slot_map_node(&m, "h", 1, 0), -1);
	CHECK_INT(slot_map_node(&m, "h", 1, 65536), -1);
	CHECK_INT(slot_map_node(&m, "h\0x", 3, 1), -1);
	CHECK_INT(slot_map_assign(&m, 0, 8191, 0), 0);
	CHECK_INT(slot_map_assign(&m, 8192, 16383, 1), 0);
	CHECK_INT(m.n_covered, CLUSTER_SLOTS);
	CHECK_INT(slot_map_owner(&m, 8191), 0);
	CHECK_INT(slot_map_owner(&m, 8192), 1);
	CHECK_INT(slot_map_owner(&m, 16384), -1);
	CHECK_INT(slot_map_assign(&m, 100, 100, 1), 0);     /* a MOVED */
	CHECK_INT(slot_map_owner(&m, 100), 1);
	CHECK_INT(m.n_covered, CLUSTER_SLOTS);
	CHECK_INT(slot_map_assign(&m, -1, 5, 0), -1);
	CHECK_INT(slot_map_assign(&m, 5, 4, 0), -1);
	CHECK_INT(slot_map_assign(&m, 0, 16384, 0), -1);
	CHECK_INT(slot_map_assign(&m, 0, 1, 2), -1);        /* no such node */
	CHECK_INT(slot_map_serving_node(&m, 0), 0);
	CHECK_INT(slot_map_serving_node(&m, 1), 1);
	CHECK_INT(slot_map_serving_node(&m, 2), 0);
	CHECK_INT(slot_map_assign(&m, 0, 16383, 1), 0);      /* node 0 serves nothing now */
	CHECK_INT(m.n_served[0], 0);
	CHECK_INT(m.n_served[1], CLUSTER_SLOTS);
	CHECK_INT(slot_map_serving_node(&m, 0), 1);
	CHECK_INT(slot_map_serving_node(&m, 7), 1);
	slot_map_clear_owners(&m);
	CHECK_INT(m.n_covered, 0);
	CHECK_INT(slot_map_serving_node(&m, 0), -1);
	CHECK_INT(m.n_nodes, 2);
	/* the limit: CLUSTER_MAX_NODES, then refused */
	for (int i = 2; i < CLUSTER_MAX_NODES; i++) {
		int n = snprintf(host, sizeof(host), "n%d", i);
		CHECK_INT(slot_map_node(&m, host, (size_t)n, 7000), i);
	}
	CHECK_INT(slot_map_node(&m, "one-more", 8, 7000), -1);
	CHECK_INT(slot_map_node(&m, "n5", 2, 7000), 5);
}

static void test_redirects(void)
{
	struct cluster_redirect rd;
	const char *t = "MOVED 3999 127.0.0.1:6381";
	CHECK_INT(cluster_parse_redirect(t, strlen(t), &rd), 0);
	CHECK(!rd.ask);
	CHECK_INT(rd.slot, 3999);
	CHECK_STR(rd.host, "127.0.0.1");
	CHECK_INT(rd.port, 6381);
	t = "ASK 16383 ::1:7000";
	CHECK_INT(cluster_parse_redirect(t, strlen(t), &rd), 0);
	CHECK(rd.ask);
	CHECK_INT(rd.slot, 16383);
	CHECK_STR(rd.host, "::1");
	CHECK_INT(rd.port, 7000);
	t = "MOVED 1 :7001";   /* unknown endpoint: the node that answered */
	CHECK_INT(cluster_parse_redirect(t, strlen(t), &rd), 0);
	CHECK_STR(rd.host, "");
	CHECK_INT(rd.port, 7001);
	static const char *const bad[] = {
		"MOVED", "MOVED 1", "MOVED 16384 h:1", "MOVED -1 h:1", "MOVED 1 h", "MOVED 1 h:",
		"MOVED 1 h:0", "MOVED 1 h:65536", "MOVED x h:1", "ASK 1 h:1x", "MOVE 1 h:1",
		"moved 1 h:1", "MOVED 1 h h:1", "ERR MOVED 1 h:1",
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		CHECK_INT(cluster_parse_redirect(bad[i], strlen(bad[i]), &rd), -1);
}

/* ---- fake cluster nodes ----
 * Each fake node is a forked process on a loopback port. It answers
 * CLUSTER SLOTS with the shared can, ASKING with +OK, and every other
 * command with the next canned reply of its queue (then its fallback),
 * and logs the command names it got. */
#define FAKE_NODES 3                 /* node 2 listens on 127.0.0.2: another host */
#define FAKE_QUEUE 8
struct fake_node {
	int port;
	char queue[FAKE_QUEUE][128];
	int n_queue, next;
	char fallback[128];
	char log[2048];                  /* "CMD CMD ..." */
	int slots_asked;
};
struct fake_shared {
	char slots[1024];
	struct fake_node node[FAKE_NODES];
};
static struct fake_shared *fk;
static pid_t fake_pid[FAKE_NODES];

/* Reads one RESP array of bulk strings; the first element's name into
 * name. 0 on success, -1 on EOF or garbage. */
static int read_command(int fd, char *buf, size_t cap, size_t *have, char *name, size_t namecap,
	char *arg1, size_t argcap)
{
	for (;;) {
		/* try to parse what is there */
		char *p = buf, *end = buf + *have;
		long n = 0;
		char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl && *p == '*') {
			n = strtol(p + 1, NULL, 10);
			p = nl + 1;
			long i;
			for (i = 0; i < n; i++) {
				nl = memchr(p, '\n', (size_t)(end - p));
				if (!nl || *p != '$')
					break;
				long len = strtol(p + 1, NULL, 10);
				p = nl + 1;
				if (end - p < len + 2)
					break;
				char *dst = i == 0 ? name : i == 1 ? arg1 : NULL;
				size_t dcap = i == 0 ? namecap : argcap;
				if (dst) {
					size_t c = (size_t)len < dcap - 1 ? (size_t)len : dcap - 1;
					memcpy(dst, p, c);
					dst[c] = '\0';
				}
				p += len + 2;
			}
			if (i == n) {
				if (n < 2)
					arg1[0] = '\0';
				memmove(buf, p, (size_t)(end - p));
				*have = (size_t)(end - p);
				return 0;
			}
		}
		if (*have == cap)
			return -1;
		ssize_t r = read(fd, buf + *have, cap - *have);
		if (r <= 0)
			return -1;
		*have += (size_t)r;
	}
}

static void fake_serve(int lfd, struct fake_node *me)
{
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		char buf[4096], name[32], arg1[64];
		size_t have = 0;
		while (read_command(fd, buf, sizeof(buf), &have, name, sizeof(name), arg1, sizeof(arg1)) == 0) {
			const char *rep;
			if (strcmp(name, "CLUSTER") == 0) {
				me->slots_asked++;
				rep = fk->slots;
			} else if (strcmp(name, "ASKING") == 0 || strcmp(name, "AUTH") == 0) {
				rep = "+OK\r\n";
			} else {
				rep = me->next < me->n_queue ? me->queue[me->next++] : me->fallback;
			}
			size_t l = strlen(me->log);
			if (strcmp(name, "CLUSTER") != 0 && l + strlen(name) + 2 < sizeof(me->log))
				snprintf(me->log + l, sizeof(me->log) - l, "%s%s", l ? " " : "", name);
			if (write(fd, rep, strlen(rep)) < 0)
				break;
		}
		close(fd);
	}
}

static int start_fakes(void)
{
	fk = mmap(NULL, sizeof(*fk), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (fk == MAP_FAILED)
		return -1;
	memset(fk, 0, sizeof(*fk));
	for (int i = 0; i < FAKE_NODES; i++) {
		struct sockaddr_in in = { .sin_family = AF_INET };
		socklen_t len = sizeof(in);
		in.sin_addr.s_addr = htonl(i == 2 ? INADDR_LOOPBACK + 1 : INADDR_LOOPBACK);
		int lfd = socket(AF_INET, SOCK_STREAM, 0);
		if (lfd < 0 || bind(lfd, (struct sockaddr *)&in, sizeof(in)) != 0 ||
		    listen(lfd, 16) != 0 || getsockname(lfd, (struct sockaddr *)&in, &len) != 0)
			return -1;
		fk->node[i].port = ntohs(in.sin_port);
		fake_pid[i] = fork();
		if (fake_pid[i] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			alarm(120);
			fake_serve(lfd, &fk->node[i]);
			_exit(0);
		}
		close(lfd);
		if (fake_pid[i] < 0)
			return -1;
	}
	return 0;
}

static void stop_fakes(void)
{
	for (int i = 0; i < FAKE_NODES; i++)
		if (fake_pid[i] > 0) {
			kill(fake_pid[i], SIGKILL);
			waitpid(fake_pid[i], NULL, 0);
			fake_pid[i] = 0;
		}
}

/* Node 0 serves slots 0-8191 (named by an empty host: "the node you asked"),
 * node 1 8192-16383; or both ranges to a port nothing listens on. */
static void can_slots(int port0, int port1)
{
	snprintf(fk->slots, sizeof(fk->slots),
		"*2\r\n"
		"*3\r\n:0\r\n:8191\r\n*3\r\n$0\r\n\r\n:%d\r\n$2\r\nid\r\n"
		"*4\r\n:8192\r\n:16383\r\n*2\r\n$9\r\n127.0.0.1\r\n:%d\r\n*2\r\n$9\r\n127.0.0.1\r\n:1\r\n",
		port0, port1);
}

static void reset_node(int i, const char *fallback)
{
	struct fake_node *n = &fk->node[i];
	n->n_queue = n->next = 0;
	n->log[0] = '\0';
	n->slots_asked = 0;
	snprintf(n->fallback, sizeof(n->fallback), "%s", fallback);
}

static void queue_reply(int i, const char *rep)
{
	struct fake_node *n = &fk->node[i];
	snprintf(n->queue[n->n_queue++], sizeof(n->queue[0]), "%s", rep);
}

/* "-MOVED slot 127.0.0.1:port" or "-ASK ...", into a static buffer. */
static const char *redirect(const char *kind, int slot, int port)
{
	static char b[96];
	snprintf(b, sizeof(b), "-%s %d 127.0.0.1:%d\r\n", kind, slot, port);
	return b;
}

static struct store *cluster_store(int timeout_ms)
{
	struct redis_config rc;
	memset(&rc, 0, sizeof(rc));
	rc.connect_timeout_ms = 300;
	rc.command_timeout_ms = timeout_ms;
	snprintf(rc.cluster_seeds[0].host, sizeof(rc.cluster_seeds[0].host), "127.0.0.1");
	rc.cluster_seeds[0].port = fk->node[0].port;
	rc.n_cluster_seeds = 1;
	return store_redis_new(&rc);
}

/* "foo" is slot 12182 (node 1), "bar" 5061 (node 0). */
static void test_routing_and_redirects(void)
{
	int p0 = fk->node[0].port, p1 = fk->node[1].port;
	struct buf out = BUF_INIT;
	can_slots(p0, p1);
	reset_node(0, "$2\r\nv0\r\n");
	reset_node(1, "$2\r\nv1\r\n");
	struct store *s = cluster_store(1000);
	CHECK(s != NULL);
	if (!s)
		return;

	/* routing by the slot map read from node 0 */
	CHECK_INT(store_get(s, "foo", 3, 0, &out), STORE_OK);
	CHECK(out.len == 2 && memcmp(out.data, "v1", 2) == 0);
	CHECK_INT(store_get(s, "bar", 3, 0, &out), STORE_OK);
	CHECK(out.len == 2 && memcmp(out.data, "v0", 2) == 0);
	CHECK_INT(fk->node[0].slots_asked, 1);
	CHECK_STR(fk->node[0].log, "GET");
	CHECK_STR(fk->node[1].log, "GET");

	/* MOVED: retried once on the named node, the map is read again
	 * before the next command */
	reset_node(0, "$2\r\nv0\r\n");
	reset_node(1, "$2\r\nv1\r\n");
	queue_reply(0, redirect("MOVED", 5061, p1));
	CHECK_INT(store_get(s, "bar", 3, 0, &out), STORE_OK);
	CHECK(out.len == 2 && memcmp(out.data, "v1", 2) == 0);
	CHECK_STR(fk->node[0].log, "GET");
	CHECK_STR(fk->node[1].log, "GET");
	CHECK_INT(store_get(s, "bar", 3, 0, &out), STORE_OK);
	CHECK_INT(fk->node[0].slots_asked + fk->node[1].slots_asked, 1);

	/* ASK: ASKING + the command on the named node, map unchanged */
	reset_node(0, "$2\r\nv0\r\n");
	reset_node(1, "$2\r\nv1\r\n");
	queue_reply(0, redirect("ASK", 5061, p1));
	CHECK_INT(store_get(s, "bar", 3, 0, &out), STORE_OK);
	CHECK(out.len == 2 && memcmp(out.data, "v1", 2) == 0);
	CHECK_STR(fk->node[1].log, "ASKING GET");
	CHECK_INT(store_get(s, "bar", 3, 0, &out), STORE_OK);
	CHECK(out.len == 2 && memcmp(out.data, "v0", 2) == 0);
	CHECK_STR(fk->node[0].log, "GET GET");
	CHECK_INT(fk->node[0].slots_asked + fk->node[1].slots_asked, 0);

	/* TRYAGAIN / CLUSTERDOWN for a while: retried with back-off */
	reset_node(0, "$2\r\nv0\r\n");
	queue_reply(0, "-TRYAGAIN Multiple keys request during rehashing of slot\r\n");
	queue_reply(0, "-CLUSTERDOWN The cluster is down\r\n");
	CHECK_INT(store_get(s, "bar", 3, 0, &out), STORE_OK);
	CHECK_STR(fk->node[0].log, "GET GET GET");

	/* ... and for ever: the error, within about the command timeout */
	reset_node(0, "-CLUSTERDOWN The cluster is down\r\n");
	int64_t t0 = now_monotonic_ms();
	CHECK_INT(store_get(s, "bar", 3, 0, &out), STORE_ERR_REPLY);
	int64_t took = now_monotonic_ms() - t0;
	CHECK_STR(s->errstr, "GET: CLUSTERDOWN");
	CHECK(took >= 900 && took < 2500);
	printf("cluster: CLUSTERDOWN for ever: %s after %lld ms\n", s->errstr, (long long)took);

	/* a MOVED ping-pong ends after two redirects */
	reset_node(0, "-MOVED 5061 127.0.0.1:1\r\n");
	snprintf(fk->node[0].fallback, sizeof(fk->node[0].fallback), "%s", redirect("MOVED", 5061, p1));
	snprintf(fk->node[1].fallback, sizeof(fk->node[1].fallback), "%s", redirect("MOVED", 5061, p0));
	fk->node[1].log[0] = '\0';
	CHECK_INT(store_get(s, "bar", 3, 0, &out), STORE_ERR_REPLY);
	CHECK_STR(s->errstr, "GET: MOVED");
	CHECK(strlen(fk->node[0].log) + strlen(fk->node[1].log) <= strlen("GET GET GET") + 1);

	/* the owner is dead (nothing on port 1): connect errors, map read
	 * again, back-off, then STORE_ERR_CONNECT within about the timeout */
	can_slots(p0, 1);
	reset_node(0, "$2\r\nv0\r\n");
	reset_node(1, "$2\r\nv1\r\n");
	store_free(s);
	s = cluster_store(500);
	t0 = now_monotonic_ms();
	CHECK_INT(store_get(s, "foo", 3, 0, &out), STORE_ERR_CONNECT);
	took = now_monotonic_ms() - t0;
	CHECK(took >= 400 && took < 1500);
	CHECK(fk->node[0].slots_asked >= 2);
	printf("cluster: dead owner: %s after %lld ms, map read %d times\n", s->errstr,
		(long long)took, fk->node[0].slots_asked);
	/* the other half is unaffected */
	CHECK_INT(store_get(s, "bar", 3, 0, &out), STORE_OK);

	/* readiness: ready when the primary that answers takes the health
	 * write, though sgid:health's slot (1764) is on the dead one */
	can_slots(1, p0);
	reset_node(0, "+OK\r\n");
	store_free(s);
	s = cluster_store(300);
	CHECK_INT(store_probe_write(s), STORE_WRITABLE);
	CHECK(strstr(fk->node[0].log, "SET") != NULL);

	/* a malformed CLUSTER SLOTS reply routes nothing */
	snprintf(fk->slots, sizeof(fk->slots), "*1\r\n*2\r\n:0\r\n:16383\r\n");
	store_free(s);
	s = cluster_store(300);
	CHECK_INT(store_ping(s), STORE_ERR_REPLY);
	CHECK(strstr(s->errstr, "malformed") != NULL);
	store_free(s);
	buf_free(&out);
}

/* Issue 21 item 7: a node (or anyone on the path) answering MOVED, ASK or
 * CLUSTER SLOTS with another host must not get the client to connect
 * there and send AUTH. Node 2 is that other host (127.0.0.2). */
static void test_redirects_only_to_allowed_hosts(void)
{
	int p0 = fk->node[0].port, p1 = fk->node[1].port, p2 = fk->node[2].port;
	struct buf out = BUF_INIT;
	struct metrics_block mb;
	char moved[96];
	metrics_block_zero(&mb);
	can_slots(p0, p1);
	struct redis_config rc;
	memset(&rc, 0, sizeof(rc));
	rc.connect_timeout_ms = 300;
	rc.command_timeout_ms = 1000;
	snprintf(rc.cluster_seeds[0].host, sizeof(rc.cluster_seeds[0].host), "127.0.0.1");
	rc.cluster_seeds[0].port = p0;
	rc.n_cluster_seeds = 1;
	snprintf(rc.password, sizeof(rc.password), "cluster-pass");
	struct store *s = store_redis_new(&rc);
	CHECK(s != NULL);
	if (!s)
		return;
	s->metrics = &mb;

	/* MOVED and ASK to another host: refused, counted, node 2 never hears of it */
	for (int k = 0; k < 2; k++) {
		reset_node(0, "$2\r\nv0\r\n");
		reset_node(2, "$2\r\nv2\r\n");
		snprintf(moved, sizeof(moved), "-%s 5061 127.0.0.2:%d\r\n", k ? "ASK" : "MOVED", p2);
		queue_reply(0, moved);
		CHECK_INT(store_get(s, "bar", 3, 0, &out), STORE_ERR_REPLY);
		CHECK(strstr(s->errstr, "not allowed") != NULL);
		CHECK_STR(fk->node[2].log, "");
		CHECK_INT(fk->node[2].slots_asked, 0);
		printf("cluster: %s\n", s->errstr);
	}
	CHECK_INT(mb.redis_errors[METRICS_REDIS_ADDRESS_REFUSED], 2);
	/* another port of the seed's host is followed (node 1) */
	reset_node(0, "$2\r\nv0\r\n");
	reset_node(1, "$2\r\nv1\r\n");
	queue_reply(0, redirect("MOVED", 5061, p1));
	CHECK_INT(store_get(s, "bar", 3, 0, &out), STORE_OK);
	CHECK(out.len == 2 && memcmp(out.data, "v1", 2) == 0);

	/* CLUSTER SLOTS naming another host: those slots stay unserved */
	snprintf(fk->slots, sizeof(fk->slots),
		"*2\r\n"
		"*3\r\n:0\r\n:8191\r\n*2\r\n$9\r\n127.0.0.1\r\n:%d\r\n"
		"*3\r\n:8192\r\n:16383\r\n*2\r\n$9\r\n127.0.0.2\r\n:%d\r\n", p0, p2);
	store_free(s);
	s = store_redis_new(&rc);
	s->metrics = &mb;
	reset_node(0, "$2\r\nv0\r\n");
	reset_node(2, "$2\r\nv2\r\n");
	CHECK_INT(store_get(s, "bar", 3, 0, &out), STORE_OK);
	CHECK_INT(store_get(s, "foo", 3, 0, &out), STORE_ERR_CONNECT);
	CHECK_STR(fk->node[2].log, "");
	CHECK(mb.redis_errors[METRICS_REDIS_ADDRESS_REFUSED] >= 3);

	/* allowed by REDIS_CLUSTER_ALLOWED_HOSTS (a range): followed, with AUTH */
	rc.allowed_nets.n = 1;
	const char *why;
	CHECK_INT(cidr_parse("127.0.0.2/32", 12, &rc.allowed_nets.v[0], &why), 0);
	store_free(s);
	s = store_redis_new(&rc);
	reset_node(2, "$2\r\nv2\r\n");
	CHECK_INT(store_get(s, "foo", 3, 0, &out), STORE_OK);
	CHECK(out.len == 2 && memcmp(out.data, "v2", 2) == 0);
	CHECK_STR(fk->node[2].log, "AUTH GET");
	/* ... and by name */
	rc.allowed_nets.n = 0;
	snprintf(rc.allowed_names[0], sizeof(rc.allowed_names[0]), "127.0.0.2");
	rc.n_allowed_names = 1;
	store_free(s);
	s = store_redis_new(&rc);
	reset_node(2, "$2\r\nv2\r\n");
	CHECK_INT(store_get(s, "foo", 3, 0, &out), STORE_OK);
	CHECK_STR(fk->node[2].log, "AUTH GET");
	store_free(s);
	buf_free(&out);
}

int main(void)
{
	server_ignore_sigpipe();
	RUN(test_crc16_and_slots);
	RUN(test_slot_map);
	RUN(test_redirects);
	if (start_fakes() != 0) {
		CHECK(!"fake cluster nodes started");
	} else {
		RUN(test_routing_and_redirects);
		RUN(test_redirects_only_to_allowed_hosts);
	}
	stop_fakes();
	return harness_report("test_cluster");
}
