#include "admin.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "log.h"
#include "server.h"
#include "session.h"
#include "store.h"

enum { EXIT_STORE = 1, EXIT_CONFIG = 2, EXIT_USAGE = 64 };

bool admin_is_command(const char *arg)
{
	return arg && (strcmp(arg, "revoke") == 0 || strcmp(arg, "sessions") == 0);
}

int admin_load_config(const char *env_file, struct config *cfg)
{
	struct cfg_error err;
	if (env_file && access(env_file, R_OK) != 0) {
		fprintf(stderr, "sgid-fcgi: cannot read env file %s\n", env_file);
		return -1;
	}
	if (cfg_load(cfg, env_file ? env_file : ".env", &err) != 0) {
		fprintf(stderr, "sgid-fcgi: configuration error: %s: %s\n", err.var, err.msg);
		return -1;
	}
	log_set_level(cfg->log_level);
	return 0;
}

static void admin_usage(FILE *f)
{
	fputs("usage: sgid-fcgi revoke --sub SUB [--env-file PATH]\n"
	      "       sgid-fcgi sessions --sub SUB [--env-file PATH]\n"
	      "\n"
	      "revoke ends every session of the user whose ID-token sub is SUB, on every\n"
	      "host (they share Redis), and prints how many it ended; sessions prints how\n"
	      "many are live. Sessions of both SESSION_SECRET and SESSION_SECRET_PREVIOUS\n"
	      "are found. Exit status: 0 done, 1 Redis unavailable, 2 configuration error.\n", f);
}

static int run_command(const char *cmd, const struct config *cfg, const char *sub)
{
	struct session_mgr mgr;
	struct store *store = store_redis_new(&cfg->redis);
	long long n = 0;
	int rc = EXIT_STORE;
	if (!store || session_mgr_init(&mgr, store, cfg) != 0) {
		fprintf(stderr, "sgid-fcgi %s: out of memory\n", cmd);
		store_free(store);
		return EXIT_STORE;
	}
	enum session_err e = strcmp(cmd, "revoke") == 0 ? session_revoke_user(&mgr, sub, &n)
	                                                : session_count_user(&mgr, sub, &n);
	if (e == SESSION_OK) {
		printf("%lld\n", n);
		rc = 0;
	} else {
		fprintf(stderr, "sgid-fcgi %s: %s: %s\n", cmd, session_strerror(e), store->errstr);
	}
	session_mgr_wipe(&mgr);
	store_free(store);
	return rc;
}

int admin_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "sub", required_argument, NULL, 's' },
		{ "env-file", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = argv[0], *sub = NULL, *env_file = NULL;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 's': sub = optarg; break;
		case 'e': env_file = optarg; break;
		case 'h': admin_usage(stdout); return 0;
		default: admin_usage(stderr); return EXIT_USAGE;
		}
	}
	/* a sub is what the ID token carried: printable, at most 259 bytes */
	if (optind < argc || !sub || !*sub || strlen(sub) >= sizeof(((struct session *)0)->sub)) {
		admin_usage(stderr);
		return EXIT_USAGE;
	}
	struct config cfg;
	if (admin_load_config(env_file, &cfg) != 0)
		return EXIT_CONFIG;
	/* a Redis that closes the connection is an error here, not a death */
	server_ignore_sigpipe();
	int rc = run_command(cmd, &cfg, sub);
	cfg_free(&cfg);
	return rc;
}
