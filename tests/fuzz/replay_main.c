/* Replay driver: a main() for the fuzz targets without libFuzzer, so the
 * committed corpus runs under ASan/UBSan with gcc or clang in `make check`.
 *
 *   fuzz_<name>-replay FILE|DIR...
 *
 * Every regular file given, and every regular file directly inside a
 * given directory (sorted by name), is fed to LLVMFuzzerTestOneInput in a
 * child process of its own, so one failing input (a sanitizer report, a
 * violated property, a leak found at exit) is named and counted and the
 * rest still run. Ends with "<name>: N passed, N failed"; exits 1 when any
 * input failed or nothing was replayed. FUZZ_REPLAY_NOFORK=1 runs inputs
 * in-process (for a debugger). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzz.h"

#define REPLAY_MAX_INPUT (4 * 1024 * 1024)

static int passed, failed;
static int no_fork;

static uint8_t *read_input(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			uint8_t *p;
			if (ncap > REPLAY_MAX_INPUT + 1 || !(p = realloc(data, ncap)))
				goto fail;
			data = p;
			cap = ncap;
		}
		size_t r = fread(data + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f))
		goto fail;
	fclose(f);
	*len = n;
	return data;
fail:
	free(data);
	fclose(f);
	return NULL;
}

/* Runs one input; 0 when it passed. The input is copied to a buffer of
 * exactly its size, so an overread is caught as with libFuzzer. */
static int run_one(const char *path)
{
	size_t len = 0;
	uint8_t *data = read_input(path, &len);

	if (!data) {
		fprintf(stderr, "replay: %s: cannot read: %s\n", path, strerror(errno));
		return -1;
	}
	uint8_t *exact = malloc(len ? len : 1);
	if (!exact) {
		free(data);
		return -1;
	}
	memcpy(exact, data, len);
	free(data);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	return 0;
}

static void replay_file(const char *path)
{
	int ok;

	if (no_fork) {
		ok = run_one(path) == 0;
	} else {
		fflush(NULL);
		pid_t pid = fork();
		if (pid < 0) {
			fprintf(stderr, "replay: fork: %s\n", strerror(errno));
			ok = 0;
		} else if (pid == 0) {
			/* exit(), not _exit(): LeakSanitizer checks at exit */
			exit(run_one(path) == 0 ? 0 : 3);
		} else {
			int st;
			while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
				;
			ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
			if (!ok && WIFSIGNALED(st))
				fprintf(stderr, "replay: %s: killed by signal %d\n", path, WTERMSIG(st));
			else if (!ok)
				fprintf(stderr, "replay: %s: exit status %d\n", path, WEXITSTATUS(st));
		}
	}
	if (ok) {
		passed++;
	} else {
		failed++;
		fprintf(stderr, "replay: FAILED %s\n", path);
	}
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void replay_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;

	if (!d) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		failed++;
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **p = realloc(names, cap * sizeof(*p));
			FUZZ_REQUIRE(p != NULL);
			names = p;
		}
		size_t len = strlen(dir) + strlen(e->d_name) + 2;
		names[n] = malloc(len);
		FUZZ_REQUIRE(names[n] != NULL);
		snprintf(names[n], len, "%s/%s", dir, e->d_name);
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
			replay_file(names[i]);
		free(names[i]);
	}
	free(names);
}

int main(int argc, char **argv)
{
	const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	char prog[128];
	const char *nf = getenv("FUZZ_REPLAY_NOFORK");

	/* "fuzz_query-replay" reports as "fuzz_query" */
	snprintf(prog, sizeof(prog), "%s", name);
	char *dash = strstr(prog, "-replay");
	if (dash)
		*dash = '\0';
	no_fork = nf && strcmp(nf, "1") == 0;
	LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			failed++;
		} else if (S_ISDIR(st.st_mode)) {
			replay_dir(argv[i]);
		} else {
			replay_file(argv[i]);
		}
	}
	printf("%s: %d passed, %d failed\n", prog, passed, failed);
	return failed == 0 && passed > 0 ? 0 : 1;
}
