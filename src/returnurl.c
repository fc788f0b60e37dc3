/* returnurl: one strict rule for every URL we send a browser back to.
 * Checked twice, on the value as given and once percent-decoded, because
 * browsers and the apps behind the gateway may decode it before they act
 * on it ("/%2F%2Fevil" is "///evil" to some of them). */
#include "returnurl.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "urlparse.h"

/* As given: printable ASCII without space or backslash (no control byte,
 * no raw non-ASCII look-alike of '/' or '.'). */
static bool raw_chars_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || c == '\\')
			return false;
	}
	return true;
}

/* Once decoded: no control byte, no backslash, no escape left over. */
static bool decoded_chars_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f || c == '\\')
			return false;
		if (c == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2]))
			return false;
	}
	return true;
}

/* A "." or ".." segment in the path part (before '?' or '#'): resolving it
 * can turn "/..//evil" into "//evil". */
static bool has_dot_segment(const char *s, size_t n)
{
	size_t end = strcspn(s, "?#");
	if (end > n)
		end = n;
	for (size_t i = 0; i < end;) {
		size_t seg = i + 1, j = seg;
		while (j < end && s[j] != '/')
			j++;
		size_t sl = j - seg;
		if ((sl == 1 && s[seg] == '.') || (sl == 2 && s[seg] == '.' && s[seg + 1] == '.'))
			return true;
		i = j;
	}
	return false;
}

/* A path on our own origin: one leading '/', then not '/' or '\'. */
static bool path_ok(const char *s, size_t n)
{
	return n >= 1 && s[0] == '/' && (n == 1 || (s[1] != '/' && s[1] != '\\')) &&
	       !has_dot_segment(s, n);
}

static bool origin_allowed(const char *url, const struct config *cfg, const char **why)
{
	struct http_url u;
	char origin[CFG_ORIGIN_LEN];

	if (url_parse_http(url, &u, why) != 0)
		return false;
	*why = "http:// only for loopback hosts";
	if (!u.https && !url_is_loopback(u.host))
		return false;
	*why = "origin not allowed";
	if (url_origin(&u, origin, sizeof(origin)) != 0)
		return false;
	for (size_t i = 0; i < cfg->n_return_origins; i++)
		if (strcmp(origin, cfg->return_origins[i]) == 0)
			return true;
	return false;
}

static bool is_absolute(const char *s, size_t n)
{
	return (n >= 8 && strncasecmp(s, "https://", 8) == 0) ||
	       (n >= 7 && strncasecmp(s, "http://", 7) == 0);
}

bool returnurl_valid(const char *rd, size_t len, const struct config *cfg, const char **why)
{
	char copy[RETURNURL_MAX + 1], dec[RETURNURL_MAX + 1];
	size_t dlen = 0;
	const char *dummy;

	if (!why)
		why = &dummy;
	*why = "empty or longer than 1024 bytes";
	if (!rd || len == 0 || len > RETURNURL_MAX)
		return false;
	*why = "not printable ASCII, or a space or backslash";
	if (!raw_chars_ok(rd, len))
		return false;
	*why = "bad or doubled percent-encoding, or a control byte or backslash once decoded";
	if (http_percent_decode(rd, len, false, dec, &dlen) != HTTP_OK || !decoded_chars_ok(dec, dlen))
		return false;
	if (is_absolute(rd, len)) {
		memcpy(copy, rd, len);
		copy[len] = '\0';
		return origin_allowed(copy, cfg, why);
	}
	*why = "not a path of our own origin (one leading '/', no dot segments)";
	return path_ok(rd, len) && path_ok(dec, dlen);
}

int returnurl_resolve(const char *rd, const struct config *cfg, struct buf *out)
{
	if (rd[0] == '/' && buf_append_str(out, cfg->redirect_origin) != 0)
		return -1;
	return buf_append_str(out, rd);
}
