/* sgid-fcgi: process start. Options, configuration, logging, then the
 * FastCGI workers (threads) on fd 0 or the supervisor's socket. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "audit.h"
#include "cfg.h"
#include "keycmd.h"
#include "log.h"
#include "metrics_http.h"
#include "rp_keys.h"
#include "server.h"
#include "supervisor.h"

enum { EXIT_CONFIG = 2, EXIT_USAGE = 64, EXIT_UNAVAILABLE = 69 };

static void usage(FILE *f)
{
	fputs("usage: sgid-fcgi [--env-file PATH] [--threads T] [--max-requests N]\n"
	      "       sgid-fcgi --listen unix:PATH|HOST:PORT [--workers N] [--threads T] ...\n"
	      "       sgid-fcgi --status [--metrics-listen ADDR]\n"
	      "       sgid-fcgi --check-config | --version | --help\n"
	      "       sgid-fcgi revoke|sessions --sub SUB [--env-file PATH]\n"
	      "       sgid-fcgi jwks [--env-file PATH] | keygen DIR\n"
	      "\n"
	      "The sgID or Singpass (LOGIN_PROVIDER) login backend as a FastCGI responder.\n"
	      "jwks prints the Singpass keys' public JWKS, keygen writes fresh ones (see\n"
	      "sgid-fcgi keygen --help). Without --listen\n"
	      "it serves the socket on fd 0, as spawn-fcgi, lighttpd (bin-path) and\n"
	      "systemd socket activation expect. With --listen it opens the socket and\n"
	      "supervises a pool of workers: respawn with backoff, recycling, SIGHUP\n"
	      "reload (a new pool beside the old, then the old retired), graceful SIGTERM.\n"
	      "Each worker serves T requests at once on T threads; at most SGID_MAX_INFLIGHT\n"
	      "of the pool's threads (default 4/5) wait on sgID at once, so a slow sgID\n"
	      "never takes the threads that health, auth-url and cached userinfo need.\n"
	      "Without --listen, SIGHUP reopens AUDIT_LOG (logrotate); with it, SIGHUP\n"
	      "reloads and the new workers open it afresh.\n"
	      "Configuration comes from the environment and an optional .env file\n"
	      "(the environment wins); see README.md for the variables.\n"
	      "\n"
	      "  --env-file PATH     read PATH instead of ./.env (a missing file is an error)\n"
	      "  --check-config      validate the configuration (with Singpass, load its keys),\n"
	      "                      print the result, exit\n"
	      "  --listen SPEC       unix:/run/sgid-fcgi/sgid-fcgi.sock or 127.0.0.1:9000\n"
	      "  --workers N         pool size with --listen (default 4; one per core is enough)\n"
	      "  --threads T         request threads per worker (default 64, at most 1024);\n"
	      "                      Redis connections per host = workers x threads\n"
	      "  --max-requests N    recycle a worker after N requests, over all its threads\n"
	      "                      (default 0: never)\n"
	      "  --stop-timeout S    seconds in-flight requests get on SIGTERM (default 30)\n"
	      "  --metrics-listen ADDR  with --listen: serve Prometheus /metrics and /status\n"
	      "                      on 127.0.0.1:9464 or unix:PATH (default: off)\n"
	      "  --status            print the pool's workers and threads, asked of the\n"
	      "                      supervisor's --metrics-listen (default " METRICS_HTTP_DEFAULT_ADDR ")\n"
	      "  --version           print the version\n"
	      "  --help              this text\n", f);
}

static int parse_count(const char *arg, const char *name, unsigned long min, unsigned long max,
	unsigned long *out)
{
	char *end = NULL;
	unsigned long v = strtoul(arg, &end, 10);
	if (!*arg || *end || *arg == '-' || v < min || v > max) {
		fprintf(stderr, "sgid-fcgi: %s needs a number from %lu to %lu\n", name, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* --status: the supervisor's /status page, as it is. */
static int print_status(const char *addr)
{
	struct buf page = BUF_INIT;
	char err[300];
	if (metrics_http_get(addr, "/status", &page, err, sizeof(err)) != 0) {
		fprintf(stderr, "sgid-fcgi: --status: no pool answers at %s (%s); is it running with "
		                "--metrics-listen %s?\n", addr, err, addr);
		buf_free(&page);
		return EXIT_UNAVAILABLE;
	}
	fwrite(buf_cstr(&page), 1, page.len, stdout);
	buf_free(&page);
	return 0;
}

/* --check-config's verdict: what an operator wants to see confirmed. */
static void print_config_ok(const struct config *cfg, const struct rp_keys *keys)
{
	const char *legacy = cfg->session_accept_legacy_ids ? ", session ids without a MAC accepted" : "";

	if (cfg->login_provider == LOGIN_PROVIDER_SGID) {
		printf("configuration OK: issuer %s, client %s, frontend %s%s%s\n",
		       cfg->issuer, cfg->client_id, cfg->frontend_origin,
		       cfg->private_key_previous ? ", previous client key loaded" : "", legacy);
		return;
	}
	const struct singpass_config *sp = &cfg->singpass;
	printf("configuration OK: Singpass issuer %s, client %s, redirect %s, frontend %s, "
	       "scopes \"%s\" (%s)%s\n", sp->issuer, sp->client_id, sp->redirect_uri,
	       cfg->frontend_origin, sp->scopes, sp->myinfo ? "Myinfo app: userinfo called" :
	       "Login app", legacy);
	for (size_t i = 0; i < keys->n; i++)
		printf("  %s%s key: kid %s\n", keys->keys[i].previous ? "previous " : "",
		       keys->keys[i].use == RP_KEY_SIG ? "signing" : "encryption", keys->keys[i].kid);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "env-file", required_argument, NULL, 'e' },
		{ "check-config", no_argument, NULL, 'c' },
		{ "max-requests", required_argument, NULL, 'm' },
		{ "listen", required_argument, NULL, 'l' },
		{ "workers", required_argument, NULL, 'w' },
		{ "threads", required_argument, NULL, 'T' },
		{ "stop-timeout", required_argument, NULL, 't' },
		{ "metrics-listen", required_argument, NULL, 'M' },
		{ "status", no_argument, NULL, 'S' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *env_file = NULL;
	const char *listen_spec = NULL, *metrics_listen = NULL;
	int check_only = 0, status_only = 0, opt;
	unsigned long max_requests = 0, workers = 4, stop_timeout = 30;
	unsigned long threads = SERVER_DEFAULT_THREADS;

	if (argc > 1 && admin_is_command(argv[1]))
		return admin_main(argc - 1, argv + 1);
	if (argc > 1 && keycmd_is_command(argv[1]))
		return keycmd_main(argc - 1, argv + 1);

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'e': env_file = optarg; break;
		case 'c': check_only = 1; break;
		case 'm':
			if (parse_count(optarg, "--max-requests", 0, 1000000000UL, &max_requests) != 0)
				return EXIT_USAGE;
			break;
		case 'w':
			if (parse_count(optarg, "--workers", 1, SUPERVISOR_MAX_WORKERS / 2, &workers) != 0)
				return EXIT_USAGE;
			break;
		case 'T':
			if (parse_count(optarg, "--threads", 1, SERVER_MAX_THREADS, &threads) != 0)
				return EXIT_USAGE;
			break;
		case 't':
			if (parse_count(optarg, "--stop-timeout", 1, 3600, &stop_timeout) != 0)
				return EXIT_USAGE;
			break;
		case 'l': listen_spec = optarg; break;
		case 'M': metrics_listen = optarg; break;
		case 'S': status_only = 1; break;
		case 'V': printf("sgid-fcgi %s\n", SGID_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (status_only)
		return print_status(metrics_listen ? metrics_listen : METRICS_HTTP_DEFAULT_ADDR);
	if (metrics_listen && !listen_spec && !check_only) {
		fprintf(stderr, "sgid-fcgi: --metrics-listen needs --listen: the supervisor serves "
		                "the metrics (under spawn-fcgi each process counts alone, unserved)\n");
		return EXIT_USAGE;
	}
	struct config cfg;
	if (admin_load_config(env_file, &cfg) != 0)
		return EXIT_CONFIG;
	/* an AUDIT_LOG that cannot be opened stops us here, not in a worker
	 * crash loop (the workers open it again, each for itself) */
	char why[600];
	if (audit_open(cfg.audit_log, NULL, why, sizeof(why)) != 0) {
		fprintf(stderr, "sgid-fcgi: configuration error: AUDIT_LOG: %s\n", why);
		cfg_free(&cfg);
		return EXIT_CONFIG;
	}
	audit_close();
	/* Singpass's keys: bad ones stop us here, whatever the mode */
	struct rp_keys keys = {0};
	if (cfg.login_provider == LOGIN_PROVIDER_SINGPASS &&
	    rp_keys_load(&keys, &cfg.singpass, why, sizeof(why)) != 0) {
		fprintf(stderr, "sgid-fcgi: configuration error: %s\n", why);
		cfg_free(&cfg);
		return EXIT_CONFIG;
	}
	if (check_only) {
		print_config_ok(&cfg, &keys);
		rp_keys_free(&keys);
		cfg_free(&cfg);
		return 0;
	}
	rp_keys_free(&keys); /* the provider loads its own, in each worker */
	int rc;
	if (listen_spec) {
		struct supervisor_opts so = {
			.listen = listen_spec, .workers = (unsigned)workers, .threads = (unsigned)threads,
			.max_requests = max_requests,
			.stop_timeout_s = (int)stop_timeout, .env_file = env_file ? env_file : ".env",
			.metrics_listen = metrics_listen,
		};
		rc = supervisor_run(&so, &cfg);
	} else if (!server_fd0_is_socket()) {
		fprintf(stderr, "sgid-fcgi: fd 0 is not a socket: use --listen, or start me under "
		                "spawn-fcgi, lighttpd or systemd socket activation (see --help)\n");
		rc = EXIT_USAGE;
	} else {
		struct worker_opts wo = { .listen_fd = 0, .max_requests = max_requests,
		                          .threads = (unsigned)threads };
		rc = worker_main(&cfg, &wo);
	}
	cfg_free(&cfg);
	return rc;
}
