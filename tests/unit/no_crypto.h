/* Runs one test in a fresh copy of this test binary whose OpenSSL offers no
 * algorithms: OPENSSL_CONF activates only the "null" provider, so every
 * digest, MAC and cipher fails there, as when OpenSSL cannot allocate or a
 * FIPS setup refuses. The fail-closed paths of crypto's callers are tested
 * this way without a test hook in the code itself. Usage: first in main,
 * NO_CRYPTO_CHILD(argc, argv, "test_x", fn); in a test, NO_CRYPTO_RUN(fn). */
#ifndef SGID_TEST_NO_CRYPTO_H
#define SGID_TEST_NO_CRYPTO_H

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NO_CRYPTO_ARG "--without-openssl-algorithms"

/* The test to run when this process is such a child, else NULL. */
static inline const char *no_crypto_child(int argc, char **argv)
{
	return argc == 3 && strcmp(argv[1], NO_CRYPTO_ARG) == 0 ? argv[2] : NULL;
}

/* 0 when the named test passed in a child without algorithms. */
static inline int no_crypto_run(const char *test)
{
	static const char conf_text[] =
		"openssl_conf = openssl_init\n[openssl_init]\nproviders = provider_sect\n"
		"[provider_sect]\nnull = null_sect\n[null_sect]\nactivate = 1\n";
	char conf[] = "/tmp/sgid-test-nullprov-XXXXXX";
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1); /* valgrind maps it */
	int fd = mkstemp(conf), status = -1;

	if (fd < 0 || n <= 0)
		return -1;
	self[n] = '\0';
	if (write(fd, conf_text, sizeof(conf_text) - 1) != (ssize_t)(sizeof(conf_text) - 1)) {
		close(fd);
		unlink(conf);
		return -1;
	}
	close(fd);
	pid_t pid = fork();
	if (pid == 0) {
		setenv("OPENSSL_CONF", conf, 1);
		dup2(STDERR_FILENO, STDOUT_FILENO); /* its count is not the binary's */
		execl(self, self, NO_CRYPTO_ARG, test, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, &status, 0);
	unlink(conf);
	return pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* In main: when this process is the child for fn, runs it and returns. */
#define NO_CRYPTO_CHILD(argc, argv, binary, fn) do { \
	const char *child_ = no_crypto_child((argc), (argv)); \
	if (child_) { \
		if (strcmp(child_, #fn) == 0) \
			RUN(fn); \
		return harness_report(binary " (without OpenSSL algorithms)"); \
	} \
} while (0)

#define NO_CRYPTO_RUN(fn) CHECK(no_crypto_run(#fn) == 0)

#endif
