/* keycmd: `sgid-fcgi jwks` and `sgid-fcgi keygen DIR` (keycmd.h). The
 * private keys are only ever written to the new files: nothing secret is
 * printed, and the PEM buffers are wiped. */
#include "keycmd.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cfg.h"
#include "crypto_ec.h"
#include "jose.h"
#include "rp_keys.h"
#include "util.h"

enum { EXIT_FAILED = 1, EXIT_CONFIG = 2, EXIT_USAGE = 64 };

bool keycmd_is_command(const char *arg)
{
	return arg && (strcmp(arg, "jwks") == 0 || strcmp(arg, "keygen") == 0);
}

static void keycmd_usage(FILE *f)
{
	fputs("usage: sgid-fcgi jwks [--env-file PATH]\n"
	      "       sgid-fcgi keygen DIR\n"
	      "\n"
	      "jwks prints the public JWKS of the Singpass keys the configuration names\n"
	      "(SINGPASS_SIGNING_KEY_FILE, SINGPASS_ENCRYPTION_KEY_FILE and their _PREVIOUS_\n"
	      "forms, kids from SINGPASS_*_KEY_ID or the keys' RFC 7638 thumbprints): the\n"
	      "document to register in the Singpass Developer Portal. Only public members.\n"
	      "\n"
	      "keygen writes a fresh P-256 signing key and encryption key into the existing\n"
	      "directory DIR as DIR/" KEYCMD_SIGNING_FILE " and DIR/" KEYCMD_ENCRYPTION_FILE "\n"
	      "(PKCS#8 PEM, mode 0600; an existing file is never overwritten) and prints\n"
	      "their kids and the variables to set. Nothing secret is printed.\n"
	      "\n"
	      "Neither needs Redis or the network. Exit status: 0 done, 1 keygen could not\n"
	      "write, 2 configuration error, 64 bad command line.\n", f);
}

static int print_jwks(const char *env_file)
{
	struct singpass_config sp;
	struct cfg_error e;
	struct rp_keys ks;
	struct buf out = BUF_INIT;
	char err[400];
	int rc = EXIT_CONFIG;

	if (env_file && access(env_file, R_OK) != 0) {
		fprintf(stderr, "sgid-fcgi jwks: cannot read env file %s\n", env_file);
		return EXIT_CONFIG;
	}
	if (cfg_load_singpass_keys(&sp, env_file ? env_file : ".env", &e) != 0) {
		fprintf(stderr, "sgid-fcgi jwks: configuration error: %s: %s\n", e.var, e.msg);
		return EXIT_CONFIG;
	}
	if (rp_keys_load(&ks, &sp, err, sizeof(err)) != 0) {
		fprintf(stderr, "sgid-fcgi jwks: configuration error: %s\n", err);
		return EXIT_CONFIG;
	}
	if (rp_keys_jwks(&ks, &out) == 0 && printf("%s\n", buf_cstr(&out)) > 0 && fflush(stdout) == 0)
		rc = 0;
	else
		fprintf(stderr, "sgid-fcgi jwks: cannot write the JWKS\n");
	buf_free(&out);
	rp_keys_free(&ks);
	return rc;
}

/* One key of keygen: made in memory, then its file. */
struct new_key {
	const char *file, *what, *var;
	struct buf pem;
	char kid[JWK_THUMBPRINT_LEN + 1];
	int fd;
	bool created;                /* by this run: removed when it fails */
};

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int make_key(struct new_key *k)
{
	crypto_ec_key *key = crypto_ec_key_generate();
	int rc = key && crypto_ec_key_to_pem(key, &k->pem) == 0 &&
		jwk_ec_thumbprint(key, k->kid) == 0 ? 0 : -1;
	crypto_ec_key_free(key);
	return rc;
}

/* Both files are created (O_EXCL) before either is written, so an existing
 * one leaves nothing behind; any failure removes what this run created. */
static int keygen(const char *dir)
{
	struct new_key keys[2] = {
		{ KEYCMD_SIGNING_FILE, "signing", "SINGPASS_SIGNING_KEY_FILE", BUF_INIT, "", -1, false },
		{ KEYCMD_ENCRYPTION_FILE, "encryption", "SINGPASS_ENCRYPTION_KEY_FILE", BUF_INIT, "", -1,
		  false },
	};
	char abs[PATH_MAX];
	int dfd, rc = EXIT_FAILED;
	bool written = false;
	size_t i;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || !realpath(dir, abs)) {
		fprintf(stderr, "sgid-fcgi keygen: %s: %s\n", dir, strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return EXIT_FAILED;
	}
	for (i = 0; i < ARRAY_LEN(keys); i++) {
		if (make_key(&keys[i]) != 0) {
			fprintf(stderr, "sgid-fcgi keygen: cannot make a P-256 key\n");
			goto out;
		}
	}
	for (i = 0; i < ARRAY_LEN(keys); i++) {
		keys[i].fd = openat(dfd, keys[i].file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			0600);
		if (keys[i].fd < 0) {
			fprintf(stderr, "sgid-fcgi keygen: %s/%s: %s%s\n", abs, keys[i].file, strerror(errno),
				errno == EEXIST ? " (keygen never overwrites a key: choose another DIR)" : "");
			goto out;
		}
		keys[i].created = true;
	}
	for (i = 0; i < ARRAY_LEN(keys); i++) {
		int fd = keys[i].fd;
		keys[i].fd = -1;
		if (write_all(fd, keys[i].pem.data, keys[i].pem.len) != 0 || fsync(fd) != 0 ||
		    close(fd) != 0) {
			fprintf(stderr, "sgid-fcgi keygen: %s/%s: %s\n", abs, keys[i].file, strerror(errno));
			goto out;
		}
	}
	written = true;
	rc = 0;
	for (i = 0; i < ARRAY_LEN(keys); i++)
		printf("wrote %s/%s: %s key, kid %s, mode 0600\n", abs, keys[i].file, keys[i].what,
			keys[i].kid);
	printf("\nSet in the service's environment (the kids are the keys' thumbprints unless\n"
	       "SINGPASS_SIGNING_KEY_ID / SINGPASS_ENCRYPTION_KEY_ID say otherwise):\n\n");
	for (i = 0; i < ARRAY_LEN(keys); i++)
		printf("%s=%s/%s\n", keys[i].var, abs, keys[i].file);
	printf("\nthen register the output of `sgid-fcgi jwks` in the Singpass Developer Portal.\n");
	if (fflush(stdout) != 0)
		rc = EXIT_FAILED;
out:
	for (i = 0; i < ARRAY_LEN(keys); i++) {
		if (keys[i].fd >= 0)
			close(keys[i].fd);
		if (!written && keys[i].created)
			unlinkat(dfd, keys[i].file, 0);
		buf_free(&keys[i].pem); /* wipes */
	}
	close(dfd);
	return rc;
}

int keycmd_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "env-file", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = argv[0], *env_file = NULL;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'e': env_file = optarg; break;
		case 'h': keycmd_usage(stdout); return 0;
		default: keycmd_usage(stderr); return EXIT_USAGE;
		}
	}
	if (strcmp(cmd, "jwks") == 0 && optind == argc)
		return print_jwks(env_file);
	if (strcmp(cmd, "keygen") == 0 && !env_file && optind == argc - 1 && argv[optind][0])
		return keygen(argv[optind]);
	keycmd_usage(stderr);
	return EXIT_USAGE;
}
