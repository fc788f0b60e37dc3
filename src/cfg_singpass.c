/* cfg_singpass: the SINGPASS_* variables of LOGIN_PROVIDER=singpass
 * (Singpass FAPI 2.0). Only where the RP's keys are is read here: the keys
 * themselves are loaded and checked by rp_keys_load, at start-up, by
 * --check-config and by `sgid-fcgi jwks`. */
#include <stdio.h>
#include <string.h>

#include "cfg_internal.h"
#include "urlparse.h"
#include "util.h"

#define DEFAULT_ISSUER   "https://id.singpass.gov.sg/fapi"
#define DEFAULT_SCOPES   "openid name"
#define DEFAULT_CONTEXT  "APP_AUTHENTICATION_DEFAULT"
#define ACR_PREFIX       "urn:singpass:authentication:loa:"

static const char *const key_file_vars[CFG_SINGPASS_KEY_FILES] = {
	"SINGPASS_SIGNING_KEY_FILE", "SINGPASS_SIGNING_KEY_PREVIOUS_FILE",
	"SINGPASS_ENCRYPTION_KEY_FILE", "SINGPASS_ENCRYPTION_KEY_PREVIOUS_FILE",
};
static const char *const key_id_vars[CFG_SINGPASS_KEY_FILES] = {
	"SINGPASS_SIGNING_KEY_ID", "SINGPASS_SIGNING_KEY_PREVIOUS_ID",
	"SINGPASS_ENCRYPTION_KEY_ID", "SINGPASS_ENCRYPTION_KEY_PREVIOUS_ID",
};

const char *cfg_singpass_key_var(size_t slot, bool kid)
{
	slot %= CFG_SINGPASS_KEY_FILES;
	return kid ? key_id_vars[slot] : key_file_vars[slot];
}

static int load_client_id(struct singpass_config *sp, const struct envsrc *e,
	struct cfg_error *err)
{
	static const char var[] = "SINGPASS_CLIENT_ID";
	const char *v = cfg_getv(e, var);

	if (!v)
		return cfg_fail(err, var, "is required with LOGIN_PROVIDER=singpass (the App ID "
			"from the Singpass Developer Portal)");
	for (const char *p = v; *p; p++)
		if (*p < 0x21 || *p > 0x7e)
			return cfg_fail(err, var, "must be printable ASCII without spaces");
	return cfg_copy_value(sp->client_id, sizeof(sp->client_id), v, var, err);
}

/* https://, or http:// to a loopback host (a local stand-in). */
static int parse_url(const char *var, const char *v, struct http_url *u, struct cfg_error *err)
{
	const char *why;

	if (url_parse_http(v, u, &why) != 0)
		return cfg_fail(err, var, "%s", why);
	if (!u->https && !url_is_loopback(u->host))
		return cfg_fail(err, var, "must use https:// (http:// only for localhost, "
			"127.0.0.0/8 or [::1])");
	return 0;
}

/* The issuer is compared byte for byte with the discovery document's and
 * is the client assertion's aud: scheme and host lower-case, the default
 * port dropped, the path kept as written but without trailing slashes. */
static int load_issuer(struct singpass_config *sp, const struct envsrc *e, struct cfg_error *err)
{
	static const char var[] = "SINGPASS_ISSUER";
	const char *v = cfg_getv(e, var);
	char origin[CFG_ORIGIN_LEN];
	struct http_url u;

	if (parse_url(var, v ? v : DEFAULT_ISSUER, &u, err) != 0)
		return -1;
	if (strpbrk(u.rest, "?#"))
		return cfg_fail(err, var, "must not hold a query or a fragment");
	size_t n = strlen(u.rest);
	while (n > 0 && u.rest[n - 1] == '/')
		n--;
	if (url_origin(&u, origin, sizeof(origin)) != 0 ||
	    (size_t)snprintf(sp->issuer, sizeof(sp->issuer), "%s%.*s", origin, (int)n, u.rest) >=
	    sizeof(sp->issuer))
		return cfg_fail(err, var, "too long");
	return 0;
}

/* Kept exactly as written: Singpass compares it with the registered URL. */
static int load_redirect_uri(struct config *cfg, const struct envsrc *e, struct cfg_error *err)
{
	static const char var[] = "SINGPASS_REDIRECT_URI";
	const char *v = cfg_getv(e, var);
	struct http_url u;

	if (!v)
		return cfg_fail(err, var, "is required with LOGIN_PROVIDER=singpass (the "
			"registered redirect URL, e.g. https://app.example.sg/api/redirect)");
	if (parse_url(var, v, &u, err) != 0)
		return -1;
	if (strchr(u.rest, '#'))
		return cfg_fail(err, var, "must not contain a fragment (RFC 6749 3.1.2)");
	if (cfg_copy_value(cfg->singpass.redirect_uri, sizeof(cfg->singpass.redirect_uri), v, var,
	                   err) != 0)
		return -1;
	if (url_origin(&u, cfg->redirect_origin, sizeof(cfg->redirect_origin)) != 0)
		return cfg_fail(err, var, "too long");
	return 0;
}

/* The scopes of a Singpass Login app (SINGPASS-PROTOCOL 4.1); any other is
 * a Myinfo Data Catalog scope (uinfin, dob, ...) and makes a Myinfo app. */
static bool is_login_scope(const char *s, size_t n)
{
	static const char *const login[] = { "openid", "user.identity", "name", "email", "mobileno" };
	for (size_t i = 0; i < ARRAY_LEN(login); i++)
		if (str_eq_n(s, n, login[i]))
			return true;
	return false;
}

static int load_scopes(struct singpass_config *sp, const struct envsrc *e, struct cfg_error *err)
{
	static const char var[] = "SINGPASS_SCOPES";
	const char *v = cfg_getv(e, var);
	bool openid;

	if (cfg_join_tokens(var, v ? v : DEFAULT_SCOPES, sp->scopes, sizeof(sp->scopes), &openid,
	                    err) != 0)
		return -1;
	if (!openid)
		return cfg_fail(err, var, "must include \"openid\"");
	sp->myinfo = false;
	for (const char *p = sp->scopes; *p;) {
		size_t n = strcspn(p, " ");
		if (!is_login_scope(p, n))
			sp->myinfo = true;
		p += n + (p[n] == ' ');
	}
	return 0;
}

/* urn:singpass:authentication:loa:1|2|3, in order of preference. */
static int load_acr_values(struct singpass_config *sp, const struct envsrc *e,
	struct cfg_error *err)
{
	static const char var[] = "SINGPASS_ACR_VALUES";
	const char *v = cfg_getv(e, var);
	bool openid;

	sp->acr_values[0] = '\0';
	if (!v)
		return 0;
	if (cfg_join_tokens(var, v, sp->acr_values, sizeof(sp->acr_values), &openid, err) != 0)
		return -1;
	for (const char *p = sp->acr_values; *p;) {
		size_t n = strcspn(p, " "), k = sizeof(ACR_PREFIX) - 1;
		if (n != k + 1 || strncmp(p, ACR_PREFIX, k) != 0 || p[k] < '1' || p[k] > '3')
			return cfg_fail(err, var, "each value must be " ACR_PREFIX "1, 2 or 3");
		p += n + (p[n] == ' ');
	}
	return 0;
}

/* SINGPASS-PROTOCOL 4.1: mandatory for Login apps, never sent by Myinfo
 * apps. The note lists six APP_ values and the BANK_, CPF_, FI_ and TELCO_
 * families; a type Singpass has not enabled for the app is refused by
 * Singpass at the first login, which no check here can see. */
/* Capitals, digits and underscores: the form of the context types. */
static bool is_type_name(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

static int load_context_type(struct singpass_config *sp, const struct envsrc *e,
	struct cfg_error *err)
{
	static const char var[] = "SINGPASS_AUTH_CONTEXT_TYPE";
	static const char *const app[] = { "APP_AUTHENTICATION_DEFAULT", "APP_PAYMENT_DEFAULT",
		"APP_ACCOUNT_PASSWORD_CHANGE_DEFAULT", "APP_ACCOUNT_PASSWORD_RESET_DEFAULT",
		"APP_ACCOUNT_DETAILS_CHANGE_DEFAULT", "APP_ONBOARDING_DEFAULT" };
	static const char *const families[] = { "BANK_", "CPF_", "FI_", "TELCO_" };
	const char *v = cfg_getv(e, var);
	bool known = false;

	sp->auth_context_type[0] = '\0';
	if (sp->myinfo) {
		if (v)
			return cfg_fail(err, var, "must not be set with Myinfo scopes in SINGPASS_SCOPES "
				"(Singpass refuses it for Myinfo apps)");
		return 0;
	}
	if (!v)
		v = DEFAULT_CONTEXT;
	for (size_t i = 0; i < ARRAY_LEN(app); i++)
		known = known || strcmp(v, app[i]) == 0;
	for (size_t i = 0; !known && i < ARRAY_LEN(families); i++) {
		size_t k = strlen(families[i]);
		known = has_prefix(v, families[i]) && v[k] && is_type_name(v + k);
	}
	if (!known)
		return cfg_fail(err, var, "must be one of APP_AUTHENTICATION_DEFAULT, APP_PAYMENT_DEFAULT, "
			"APP_ACCOUNT_{PASSWORD_CHANGE,PASSWORD_RESET,DETAILS_CHANGE}_DEFAULT, "
			"APP_ONBOARDING_DEFAULT or a BANK_, CPF_, FI_ or TELCO_ type");
	return cfg_copy_value(sp->auth_context_type, sizeof(sp->auth_context_type), v, var, err);
}

int cfg_singpass_keys(struct singpass_config *sp, const struct envsrc *e, struct cfg_error *err)
{
	for (size_t i = 0; i < CFG_SINGPASS_KEY_FILES; i++) {
		const char *path = cfg_getv(e, key_file_vars[i]), *kid = cfg_getv(e, key_id_vars[i]);
		bool required = i == 0 || i == 2;
		sp->key_files[i][0] = sp->key_kids[i][0] = '\0';
		if (!path && required)
			return cfg_fail(err, key_file_vars[i], "is required with LOGIN_PROVIDER=singpass "
				"(a P-256 PEM key: `sgid-fcgi keygen DIR` makes one)");
		if (!path && kid)
			return cfg_fail(err, key_id_vars[i], "names the kid of %s, which is not set",
				key_file_vars[i]);
		if (path && cfg_copy_value(sp->key_files[i], sizeof(sp->key_files[i]), path,
		                           key_file_vars[i], err) != 0)
			return -1;
		if (kid && cfg_copy_value(sp->key_kids[i], sizeof(sp->key_kids[i]), kid, key_id_vars[i],
		                          err) != 0)
			return -1;
	}
	return 0;
}

int cfg_load_singpass(struct config *cfg, const struct envsrc *e, struct cfg_error *err)
{
	struct singpass_config *sp = &cfg->singpass;

	if (load_client_id(sp, e, err) != 0 || load_issuer(sp, e, err) != 0 ||
	    load_redirect_uri(cfg, e, err) != 0 || load_scopes(sp, e, err) != 0 ||
	    load_acr_values(sp, e, err) != 0 || load_context_type(sp, e, err) != 0)
		return -1;
	return cfg_singpass_keys(sp, e, err);
}
