/* sgid-fcgi: process start. Options, configuration, logging, then the
 * FastCGI accept loop on fd 0. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "cfg.h"
#include "httpc.h"
#include "log.h"
#include "server.h"

enum { EXIT_CONFIG = 2, EXIT_USAGE = 64 };

static void usage(FILE *f)
{
	fputs("usage: sgid-fcgi [--env-file PATH] [--check-config] [--max-requests N]\n"
	      "       sgid-fcgi --version | --help\n"
	      "\n"
	      "The sgID (Singpass) login backend as a FastCGI responder. Started by\n"
	      "spawn-fcgi, lighttpd (bin-path) or systemd with the listening socket on\n"
	      "fd 0. Configuration comes from the environment and an optional .env file\n"
	      "(the environment wins); see README.md for the variables.\n"
	      "\n"
	      "  --env-file PATH   read PATH instead of ./.env (a missing file is an error)\n"
	      "  --check-config    validate the configuration, print the result, exit\n"
	      "  --max-requests N  exit after N requests (the parent respawns the worker)\n"
	      "  --version         print the version\n"
	      "  --help            this text\n", f);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "env-file", required_argument, NULL, 'e' },
		{ "check-config", no_argument, NULL, 'c' },
		{ "max-requests", required_argument, NULL, 'm' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *env_file = NULL;
	int check_only = 0, opt;
	unsigned long max_requests = 0;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'e': env_file = optarg; break;
		case 'c': check_only = 1; break;
		case 'm': {
			char *end = NULL;
			max_requests = strtoul(optarg, &end, 10);
			if (!*optarg || *end) {
				fprintf(stderr, "sgid-fcgi: --max-requests needs a number\n");
				return EXIT_USAGE;
			}
			break;
		}
		case 'V': printf("sgid-fcgi %s\n", SGID_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (env_file && access(env_file, R_OK) != 0) {
		fprintf(stderr, "sgid-fcgi: cannot read env file %s\n", env_file);
		return EXIT_CONFIG;
	}

	struct config cfg;
	struct cfg_error err;
	if (cfg_load(&cfg, env_file ? env_file : ".env", &err) != 0) {
		fprintf(stderr, "sgid-fcgi: configuration error: %s: %s\n", err.var, err.msg);
		return EXIT_CONFIG;
	}
	log_set_level(cfg.log_level);
	if (check_only) {
		printf("configuration OK: issuer %s, client %s, frontend %s\n",
		       cfg.issuer, cfg.client_id, cfg.frontend_origin);
		cfg_free(&cfg);
		return 0;
	}
	if (!server_fd0_is_socket()) {
		fprintf(stderr, "sgid-fcgi: fd 0 is not a socket: start me under spawn-fcgi, lighttpd "
		                "or systemd socket activation (see --help)\n");
		cfg_free(&cfg);
		return EXIT_USAGE;
	}
	if (httpc_global_init() != 0) {
		log_error("libcurl initialisation failed");
		cfg_free(&cfg);
		return 1;
	}

	struct app app;
	if (app_init(&app, &cfg) != 0) {
		log_error("worker initialisation failed (out of memory)");
		cfg_free(&cfg);
		return 1;
	}
	server_install_signals();
	log_info("worker ready: issuer %s", cfg.issuer);
	struct server_opts so = { .listen_fd = 0, .max_requests = max_requests };
	int rc = server_run(&app, &so);
	log_info("worker stopping");
	app_free(&app);
	cfg_free(&cfg);
	return rc == 0 ? 0 : 1;
}
