/* The test vectors of tests/vectors/ (see its README for their sources):
 * a JSON file loaded whole. Tests only. */
#ifndef SGID_TEST_VECTORS_H
#define SGID_TEST_VECTORS_H

#include <stdlib.h>
#include "harness.h"
#include "json.h"

#define SINGPASS_NOTE_VECTORS "tests/vectors/singpass-note-vectors.json"
#define SINGPASS_JOSE_VECTORS "tests/vectors/singpass-jose-vectors.json"

/* NULL when the file is missing or not JSON; the caller json_frees it. */
static inline json_value *vectors_load(const char *path)
{
	size_t len = 0;
	char *data = harness_read_file(path, &len);
	json_value *v = data ? json_parse(data, len, len + 1) : NULL;
	free(data);
	return v;
}

#endif
