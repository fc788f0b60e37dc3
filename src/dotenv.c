/* dotenv: the .env lexer (python-dotenv's format, without expansion). */
#include "dotenv.h"

#include <stdbool.h>
#include <string.h>

#include "buf.h"

#define DOTENV_KEY_MAX 128

struct dotenv_cur {
	const char *p, *end;
	int line;
};

static bool at_end(const struct dotenv_cur *c)
{
	return c->p >= c->end;
}

static void skip_blank(struct dotenv_cur *c)
{
	while (!at_end(c) && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

/* "\n", "\r\n" or the end of the text; consumes it. */
static bool take_eol(struct dotenv_cur *c)
{
	if (at_end(c))
		return true;
	if (*c->p == '\n') {
		c->p++;
		c->line++;
		return true;
	}
	if (*c->p == '\r' && c->end - c->p >= 2 && c->p[1] == '\n') {
		c->p += 2;
		c->line++;
		return true;
	}
	return false;
}

static void skip_line(struct dotenv_cur *c)
{
	while (!at_end(c) && *c->p != '\n')
		c->p++;
	take_eol(c);
}

static bool is_key_char(char ch, bool first)
{
	if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_')
		return true;
	return !first && ch >= '0' && ch <= '9';
}

static int parse_key(struct dotenv_cur *c, char key[DOTENV_KEY_MAX])
{
	size_t n = 0;

	if (at_end(c) || !is_key_char(*c->p, true))
		return -1;
	while (!at_end(c) && is_key_char(*c->p, false)) {
		if (n + 1 >= DOTENV_KEY_MAX)
			return -1;
		key[n++] = *c->p++;
	}
	key[n] = '\0';
	return 0;
}

/* Quoted value, possibly over several lines. Double quotes understand
 * \n, \" and \\ (other escapes stay as written); single quotes are literal. */
static int parse_quoted(struct dotenv_cur *c, struct buf *val)
{
	char q = *c->p++;
	int rc = 0;

	while (rc == 0) {
		if (at_end(c) || *c->p == '\0')
			return -1;
		char ch = *c->p;
		if (ch == q) {
			c->p++;
			return 0;
		}
		if (ch == '\r' && c->end - c->p >= 2 && c->p[1] == '\n') {
			c->p++;
			continue; /* CRLF files give the same value as LF ones */
		}
		if (ch == '\n')
			c->line++;
		if (q == '"' && ch == '\\' && c->end - c->p >= 2) {
			char nx = c->p[1];
			if (nx == 'n' || nx == '"' || nx == '\\') {
				rc = buf_append_char(val, nx == 'n' ? '\n' : nx);
				c->p += 2;
				continue;
			}
		}
		rc = buf_append_char(val, ch);
		c->p++;
	}
	return -1;
}

/* Unquoted: up to the end of the line or a '#' after a blank; trailing
 * blanks dropped. after_blank says the value was preceded by blanks. */
static int parse_bare(struct dotenv_cur *c, struct buf *val, bool after_blank)
{
	bool blank = after_blank;

	while (!at_end(c) && *c->p != '\n' && !(*c->p == '\r' && c->end - c->p >= 2 && c->p[1] == '\n')) {
		unsigned char ch = (unsigned char)*c->p;
		if (ch == '#' && blank)
			break;
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return -1;
		if (buf_append_char(val, (char)ch) != 0)
			return -1;
		blank = ch == ' ' || ch == '\t';
		c->p++;
	}
	while (val->len > 0 && (val->data[val->len - 1] == ' ' || val->data[val->len - 1] == '\t'))
		val->data[--val->len] = '\0';
	while (!at_end(c) && *c->p != '\n' && *c->p != '\r')
		c->p++; /* the comment */
	return 0;
}

/* One "KEY=VALUE" assignment, cursor after any "export ". */
static int parse_assignment(struct dotenv_cur *c, char key[DOTENV_KEY_MAX], struct buf *val)
{
	if (parse_key(c, key) != 0)
		return -1;
	skip_blank(c);
	if (at_end(c) || *c->p != '=')
		return -1;
	c->p++;
	const char *before = c->p;
	skip_blank(c);
	buf_reset(val);
	if (buf_append(val, "", 0) != 0) /* a value is never NULL */
		return -1;
	if (!at_end(c) && (*c->p == '"' || *c->p == '\'')) {
		if (parse_quoted(c, val) != 0)
			return -1;
		skip_blank(c);
		if (!at_end(c) && *c->p == '#')
			while (!at_end(c) && *c->p != '\n' && *c->p != '\r')
				c->p++;
	} else if (parse_bare(c, val, c->p != before) != 0) {
		return -1;
	}
	return take_eol(c) ? 0 : -1;
}

static bool take_export(struct dotenv_cur *c)
{
	static const char kw[] = "export";
	size_t n = sizeof(kw) - 1;

	if ((size_t)(c->end - c->p) > n && memcmp(c->p, kw, n) == 0 &&
	    (c->p[n] == ' ' || c->p[n] == '\t')) {
		c->p += n;
		skip_blank(c);
		return true;
	}
	return false;
}

int dotenv_parse(const char *text, size_t len,
	int (*fn)(const char *key, const char *val, void *ud), void *ud, int *line_no)
{
	struct dotenv_cur c = {text, text + len, 1};
	struct buf val = BUF_INIT;
	char key[DOTENV_KEY_MAX];
	int rc = 0, start = 1;

	if (line_no)
		*line_no = 0;
	/* editors on Windows start files with a UTF-8 BOM */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		c.p += 3;
	while (!at_end(&c)) {
		skip_blank(&c);
		start = c.line;
		if (take_eol(&c))
			continue;
		if (*c.p == '#') {
			skip_line(&c);
			continue;
		}
		take_export(&c);
		if (parse_assignment(&c, key, &val) != 0)
			goto fail;
		if ((rc = fn(key, val.data, ud)) != 0)
			break;
	}
	buf_free(&val);
	return rc;
fail:
	if (line_no)
		*line_no = start;
	buf_free(&val);
	return -1;
}
