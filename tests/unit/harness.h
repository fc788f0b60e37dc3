/* A tiny unit-test harness: CHECK records a failure and carries on, each
 * test binary ends with "<name>: N passed, N failed" and exits non-zero on
 * any failure. tests/run-unit.sh adds the binaries' counts up. */
#ifndef SGID_TEST_HARNESS_H
#define SGID_TEST_HARNESS_H

#include <stdio.h>
#include <string.h>

static int harness_passed, harness_failed;
static const char *harness_current = "";

#define CHECK(cond) do { \
	if (cond) { harness_passed++; } else { harness_failed++; \
		fprintf(stderr, "FAIL %s:%d [%s]: %s\n", __FILE__, __LINE__, harness_current, #cond); } \
} while (0)

#define CHECK_STR(got, want) do { \
	const char *g_ = (got), *w_ = (want); \
	if (g_ && w_ && strcmp(g_, w_) == 0) { harness_passed++; } else { harness_failed++; \
		fprintf(stderr, "FAIL %s:%d [%s]: %s == \"%s\", want \"%s\"\n", __FILE__, __LINE__, \
			harness_current, #got, g_ ? g_ : "(null)", w_ ? w_ : "(null)"); } \
} while (0)

#define CHECK_INT(got, want) do { \
	long long g_ = (long long)(got), w_ = (long long)(want); \
	if (g_ == w_) { harness_passed++; } else { harness_failed++; \
		fprintf(stderr, "FAIL %s:%d [%s]: %s == %lld, want %lld\n", __FILE__, __LINE__, \
			harness_current, #got, g_, w_); } \
} while (0)

#define RUN(fn) do { harness_current = #fn; fn(); } while (0)

static inline int harness_report(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, harness_passed, harness_failed);
	return harness_failed == 0 && harness_passed > 0 ? 0 : 1;
}

/* Reads a whole file (tests only); NULL on failure. Caller frees. */
#include <stdlib.h>
static inline char *harness_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) return NULL;
	char *data = NULL;
	size_t cap = 0, n = 0;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = (cap + 4096) * 2;
			char *p = realloc(data, cap);
			if (!p) { free(data); fclose(f); return NULL; }
			data = p;
		}
		size_t r = fread(data + n, 1, 4096, f);
		n += r;
		if (r == 0) break;
	}
	fclose(f);
	data[n] = '\0';
	if (len) *len = n;
	return data;
}

/* Removes a scratch directory made with mkdtemp and the files in it (no
 * subdirectories: the tests only put sockets and files there). */
#include <dirent.h>
#include <unistd.h>
static inline void harness_remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *de;
		char path[512];
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
}

#endif
