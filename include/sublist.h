/* sublist: a named set of sgID subs, parsed from an allowlist file's text
 * (one sub a line; blank lines and lines starting with '#' ignored;
 * surrounding spaces and tabs trimmed; CRLF accepted). cfg reads the file
 * at start-up and on every reload (SIGHUP), so a changed file takes effect
 * with the new workers; authz asks it whether a sub is listed. No I/O. */
#ifndef SGID_SUBLIST_H
#define SGID_SUBLIST_H

#include <stdbool.h>
#include <stddef.h>

#define SUBLIST_NAME_LEN 32       /* name: 1-31 of [a-z0-9_-] */
#define SUBLIST_MAX_ENTRIES 10000 /* subs in one file */
#define SUBLIST_SUB_MAX 255       /* bytes of one sub (sgID's are ~40) */

struct sublist {
	char name[SUBLIST_NAME_LEN];
	char **subs;                  /* sorted, unique; owned */
	size_t n;
};

/* Parses buf into out (its name left as it is). 0, or -1 with err filled
 * (line number and why; never the line itself); out is then empty. */
int sublist_parse(const char *buf, size_t len, struct sublist *out, char *err, size_t err_len);
bool sublist_has(const struct sublist *l, const char *sub, size_t len);
/* A usable list name (1-31 of a-z, 0-9, '_', '-'). */
bool sublist_name_valid(const char *name, size_t len);
void sublist_free(struct sublist *l); /* NULL ok; leaves the name */

#endif
