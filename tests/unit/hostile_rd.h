/* Return URLs (rd) that must be refused: each is a way an open redirect
 * is made. Shared by the validator's tests and the handlers'. Test data. */
#ifndef SGID_TEST_HOSTILE_RD_H
#define SGID_TEST_HOSTILE_RD_H

#include <string.h>
#include "returnurl.h"

static const char *hostile_rd_list[] = {
	/* scheme-relative and backslash forms */
	"//evil.example", "//evil.example/path", "///evil.example", "////evil.example",
	"/\\evil.example", "\\/evil.example", "\\\\evil.example", "/\\/evil.example",
	"/ok\\", "https://allowed.example/a\\b",
	/* encoded slashes and backslashes */
	"/%2F%2Fevil.example", "/%2Fevil.example", "/%2fevil.example", "/%5Cevil.example",
	"/%5cevil.example", "%2F%2Fevil.example", "%2Fpath", "%5C%5Cevil.example",
	"https://allowed.example/%5C",
	/* double encoding */
	"/%252F%252Fevil.example", "/%25%32%46", "/%255Cevil.example", "/a%252e%252e/x",
	/* bad encodings */
	"/ok%zz", "/ok%", "/ok%4",
	/* user information, look-alike hosts, other ports and schemes */
	"https://allowed.example@evil.example", "https://allowed.example:443@evil.example/",
	"https://user:pw@allowed.example/", "https://allowed.example%2F@evil.example",
	"https://allowed.example%40evil.example/", "https://allowed.example.evil.example/",
	"https://evil.example/", "https://evil.example/allowed.example",
	"https://allowed.example:444/", "https://allowed.example:0/",
	"https://allowed.example:99999/", "https://app.example/",
	"https://app.example:8444/", "https://[::1]/", "https://allowed.example./",
	"http://allowed.example/", "http://plain.example/", "http://localhost.evil.example:3000/",
	"http://127.0.0.1.evil.example:8080/", "http://localhost:3001/",
	"ftp://allowed.example/", "https://", "https:///evil.example",
	"https:evil.example", "https:/evil.example", "https:\\\\evil.example",
	/* script and data schemes */
	"javascript:alert(1)", "JaVaScRiPt:alert(1)", "javascript://%0aalert(1)",
	"data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)",
	/* CR/LF, tab, NUL, DEL, raw and encoded */
	"/ok%0d%0aSet-Cookie:x=1", "/ok%0D%0ALocation:https://evil.example", "/ok%0aX:y",
	"/ok\r\nX: y", "/ok\nX: y", "/tab\there", "/ok%09x", "/ok%00", "/ok%00.html",
	"/ok\x7f", "/ok%7F", "/ok%1b[31m", "https://allowed.example\t/",
	/* dot segments that resolve to "//evil" */
	"/..//evil.example", "/a/../..//evil.example", "/%2e%2e//evil.example",
	"/%2E%2E/%2Fevil.example", "/./", "/.", "/..", "/a/./b", "/a/..",
	/* not a path at all */
	"evil.example", "?/evil", "#//evil", "./x", "../x",
	/* empty, spaces */
	"", " ", " /path", "/path ", "/pa th", "/ok%20x%20%0a",
	/* unicode look-alikes of '/' and '\', raw */
	"/\xef\xbc\x8f\xef\xbc\x8f" "evil.example", "/\xe2\x88\x95" "evil",
	"/\xef\xbc\xbc" "evil", "\xe2\x81\x84\xe2\x81\x84" "evil.example", "/caf\xc3\xa9",
	"/ok\x80",
	NULL, /* filled with an over-long path */
};
static const size_t hostile_rd_n = sizeof(hostile_rd_list) / sizeof(hostile_rd_list[0]);

/* The list, its last entry a path one byte over RETURNURL_MAX. */
static inline const char *const *hostile_rd(void)
{
	static char too_long[RETURNURL_MAX + 2];
	memset(too_long, 'a', sizeof(too_long) - 1);
	too_long[0] = '/';
	too_long[sizeof(too_long) - 1] = '\0';
	hostile_rd_list[hostile_rd_n - 1] = too_long;
	return hostile_rd_list;
}

#endif
