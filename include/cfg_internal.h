/* cfg_internal: what the two halves of the configuration loader share:
 * cfg.c (the common and sgID variables, the .env file) and cfg_singpass.c
 * (LOGIN_PROVIDER=singpass). No other module includes it. */
#ifndef SGID_CFG_INTERNAL_H
#define SGID_CFG_INTERNAL_H

#include <stddef.h>
#include "cfg.h"

struct envsrc; /* the environment, then the .env file's variables */

/* The value of a variable: the environment wins; "" counts as unset (NULL). */
const char *cfg_getv(const struct envsrc *e, const char *name);
/* Fills err (var, message) and returns -1. Never pass a secret's value. */
int cfg_fail(struct cfg_error *err, const char *var, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* src into dst[cap], or -1 naming var when it does not fit. */
int cfg_copy_value(char *dst, size_t cap, const char *src, const char *var,
	struct cfg_error *err);
/* on/off/true/false/yes/no/1/0 (any case): 1 or 0; -1 when none of them. */
int cfg_parse_bool(const char *s);
/* Space-separated RFC 6749 scope-tokens re-joined with single spaces into
 * out[cap]; *has_openid tells whether "openid" is one of them. */
int cfg_join_tokens(const char *var, const char *v, char *out, size_t cap, bool *has_openid,
	struct cfg_error *err);

/* LOGIN_PROVIDER=singpass: the SINGPASS_* variables into cfg->singpass
 * and cfg->redirect_origin (cfg_singpass.c). */
int cfg_load_singpass(struct config *cfg, const struct envsrc *e, struct cfg_error *err);
/* Only the key files and kids of it (sp->key_files, sp->key_kids). */
int cfg_singpass_keys(struct singpass_config *sp, const struct envsrc *e, struct cfg_error *err);

#endif
