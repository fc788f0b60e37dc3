/* dotenv: the .env lexer. Knows the file format only; which variables
 * exist, and that the environment wins over the file, is cfg's business. */
#ifndef SGID_DOTENV_H
#define SGID_DOTENV_H

#include <stddef.h>

/* Parses .env text: KEY=VALUE lines, '#' comments, optional "export ",
 * single or double quotes (double quotes understand \n, \", \\), values
 * may span lines inside double quotes. Calls fn for each pair; fn's
 * non-zero return stops parsing. 0 ok, -1 on a malformed line (*line_no).
 * Details: keys are [A-Za-z_][A-Za-z0-9_]*; blanks around '=' are allowed;
 * an unquoted value ends at a '#' that follows a blank and loses trailing
 * blanks; after a closing quote only blanks and a comment may follow;
 * single quotes may span lines too; CRLF reads as LF; no ${VAR}
 * expansion; a leading UTF-8 BOM is skipped. When fn stops the parse,
 * its return value is returned. */
int dotenv_parse(const char *text, size_t len,
	int (*fn)(const char *key, const char *val, void *ud), void *ud, int *line_no);

#endif
