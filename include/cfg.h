/* cfg: configuration from the environment and an optional .env file (the
 * process environment wins). Everything is validated at start-up; a bad
 * value fails with a message naming the variable. */
#ifndef SGID_CFG_H
#define SGID_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cidr.h"
#include "crypto.h"
#include "log.h"
#include "resp.h"
#include "sublist.h"

#define CFG_MAX_SENTINELS 8
#define CFG_MAX_CLUSTER_SEEDS 16
#define CFG_MAX_ALLOWED_HOSTS 16   /* host names in REDIS_CLUSTER_ALLOWED_HOSTS */
#define CFG_ORIGIN_LEN 512           /* scheme://host[:port] and its NUL */
#define CFG_MAX_RETURN_ORIGINS 16
#define CFG_MAX_GATEWAY_HEADERS 32
#define CFG_MAX_ALLOWLISTS 16      /* SGID_ALLOWLISTS entries */
#define CFG_ALLOWLIST_FILE_MAX (1024 * 1024) /* bytes of one allowlist file */
#define CFG_FIELD_NAME_LEN 128       /* a profile field name and its NUL */

struct redis_endpoint {
	char host[256];
	int port;
};

struct redis_config {
	char unix_path[108];         /* set for unix:// URLs, else "" */
	char host[256];
	int port;
	char user[128];              /* ACL user, "" for none */
	char password[256];          /* "" for none */
	int db;
	int connect_timeout_ms;      /* REDIS_CONNECT_TIMEOUT_MS, 500 */
	int command_timeout_ms;      /* REDIS_TIMEOUT_MS, 1000 */
	struct redis_endpoint sentinels[CFG_MAX_SENTINELS]; /* REDIS_SENTINELS */
	size_t n_sentinels;
	char sentinel_master[128];   /* REDIS_SENTINEL_MASTER, "mymaster" */
	/* REDIS_CLUSTER: seed nodes of a Redis Cluster; REDIS_URL then gives
	 * only the credentials (its db must be 0). Excludes REDIS_SENTINELS. */
	struct redis_endpoint cluster_seeds[CFG_MAX_CLUSTER_SEEDS];
	size_t n_cluster_seeds;
	/* Where the servers may send the client besides the hosts configured
	 * (the cluster's seeds, the sentinels): REDIS_CLUSTER_ALLOWED_HOSTS for
	 * MOVED/ASK and CLUSTER SLOTS, REDIS_SENTINEL_ALLOWED_HOSTS for the
	 * master a sentinel names. Names (exact, any case) and addresses or
	 * CIDR ranges; any port of an allowed host. */
	char allowed_names[CFG_MAX_ALLOWED_HOSTS][256];
	size_t n_allowed_names;
	struct cidr_list allowed_nets;
	/* REDIS_SENTINEL_ALLOWED_HOSTS set: a master elsewhere is refused;
	 * unset, a sentinel's answer is taken as it is (a warning says so). */
	bool sentinel_allowlist;
	/* rediss://: every connection (sentinels, the master they name,
	 * cluster nodes) is TLS, verified against the CA file or the system
	 * store and the host connected to, or tls_server_name. */
	bool tls;
	char tls_ca_file[512];       /* REDIS_TLS_CA_FILE, "" = system store */
	char tls_cert_file[512];     /* REDIS_TLS_CERT_FILE + _KEY_FILE: client cert */
	char tls_key_file[512];
	char tls_server_name[256];   /* REDIS_TLS_SERVER_NAME, "" = the host */
	bool tls_insecure;           /* REDIS_TLS_INSECURE_SKIP_VERIFY=on: no verification */
};

/* LOGIN_PROVIDER: which identity provider this instance serves. */
enum login_provider { LOGIN_PROVIDER_SGID, LOGIN_PROVIDER_SINGPASS };

#define CFG_SINGPASS_KEY_FILES 4     /* sig, enc; each current + previous */

/* Singpass FAPI 2.0 (LOGIN_PROVIDER=singpass). The RP's keys are loaded
 * and checked at start-up (rp_keys.h) by the provider; cfg holds where
 * they are and the kids chosen for them. */
struct singpass_config {
	char client_id[256];         /* SINGPASS_CLIENT_ID */
	char issuer[560];            /* SINGPASS_ISSUER, https://id.singpass.gov.sg/fapi;
	                                http:// only for loopback */
	char scopes[1024];           /* SINGPASS_SCOPES, "openid name"; holds openid */
	char redirect_uri[1024];     /* SINGPASS_REDIRECT_URI */
	char acr_values[256];        /* SINGPASS_ACR_VALUES, "" = not sent */
	char auth_context_type[128]; /* SINGPASS_AUTH_CONTEXT_TYPE,
	                                APP_AUTHENTICATION_DEFAULT; "" (not
	                                sent) with Myinfo scopes */
	bool myinfo;                 /* a scope beyond openid, user.identity,
	                                name, email, mobileno: a Myinfo app,
	                                userinfo is called at the callback */
	/* PEM files: [0] signing, [1] signing previous, [2] encryption,
	 * [3] encryption previous ("" = unset; 0 and 2 required) and the kid
	 * of each ("" = its RFC 7638 thumbprint). */
	char key_files[CFG_SINGPASS_KEY_FILES][512];
	char key_kids[CFG_SINGPASS_KEY_FILES][128];
};

struct config {
	enum login_provider login_provider; /* LOGIN_PROVIDER, sgid */
	struct singpass_config singpass; /* LOGIN_PROVIDER=singpass only; the
	                                 sgID client fields below (client_id to
	                                 private_key_previous, hostname, issuer,
	                                 redirect_uri, scopes) stay empty then */
	char client_id[256];
	char client_secret[512];
	crypto_pkey *private_key;    /* owned; loaded and checked at start-up */
	crypto_pkey *private_key_previous; /* SGID_PRIVATE_KEY_PREVIOUS[_FILE]:
	                                 owned, NULL when unset; userinfo still
	                                 encrypted to it opens during a rotation */
	char hostname[512];          /* SGID_HOSTNAME as origin, no trailing '/' */
	char issuer[560];            /* hostname + "/v2" */
	char redirect_uri[1024];
	char frontend_origin[CFG_ORIGIN_LEN]; /* SGID_FRONTEND_HOST, no trailing '/' */
	char redirect_origin[CFG_ORIGIN_LEN]; /* of SGID_REDIRECT_URI (or
	                                 SINGPASS_REDIRECT_URI): where a
	                                 relative return URL (rd) resolves */
	char scopes[1024];
	bool frontend_https;

	int http_timeout_ms;         /* SGID_HTTP_TIMEOUT_MS, 5000 */
	int http_connect_timeout_ms; /* SGID_HTTP_CONNECT_TIMEOUT_MS, 2000 */
	size_t http_max_body;        /* SGID_HTTP_MAX_BODY, 1 MiB */
	char ca_file[512];           /* SGID_CA_FILE, "" = system store */
	char https_proxy[2049];      /* SGID_HTTPS_PROXY, "" = none (and the
	                                https_proxy etc. of the environment
	                                ignored); may hold a password */

	char cookie_name[64];        /* SESSION_COOKIE_NAME, exampleAppSession */
	enum samesite cookie_samesite;
	bool cookie_secure;
	int login_ttl;               /* LOGIN_TTL_SECONDS, 300 */
	int session_ttl;             /* SESSION_TTL_SECONDS (absolute), 3600 */
	int session_idle_ttl;        /* SESSION_IDLE_SECONDS, = session_ttl */
	int session_max_per_user;    /* SESSION_MAX_PER_USER, 20: oldest evicted */
	int clock_skew;              /* SGID_CLOCK_SKEW_SECONDS, 60 */
	int jwks_refetch_interval;   /* SGID_JWKS_MIN_REFETCH_SECONDS, 60 */
	int max_inflight;            /* SGID_MAX_INFLIGHT: request threads inside
	                                sgID calls at once, per pool; 0 = 4/5 of
	                                workers x threads */
	int inflight_wait_ms;        /* SGID_INFLIGHT_WAIT_MS, 250: how long a
	                                request waits for room before its answer */
	bool parse_data;             /* SGID_PARSE_DATA, off: stringified JSON
	                                arrays/objects in userinfo data become
	                                JSON (the SDK's parseData) */
	uint8_t session_secret[32];  /* SESSION_SECRET (>= 32 chars) hashed, or
	                                derived from the client secret */
	uint8_t session_secret_previous[32]; /* SESSION_SECRET_PREVIOUS hashed: the
	                                secret before a rotation, still read */
	bool has_session_secret_previous;
	bool session_accept_legacy_ids; /* SESSION_ACCEPT_LEGACY_IDS, off: session
	                                ids without a MAC (issued before it) read */

	/* gateway mode */
	char return_origins[CFG_MAX_RETURN_ORIGINS][CFG_ORIGIN_LEN];
	size_t n_return_origins;     /* SGID_ALLOWED_RETURN_ORIGINS, lower-case,
	                                default port dropped; default: the
	                                frontend origin */
	char gateway_error_url[1024]; /* SGID_GATEWAY_ERROR_URL, "" = the
	                                frontend's /error */
	char gateway_headers[CFG_MAX_GATEWAY_HEADERS][CFG_FIELD_NAME_LEN];
	size_t n_gateway_headers;    /* SGID_GATEWAY_HEADERS; 0 = every field */
	struct sublist allowlists[CFG_MAX_ALLOWLISTS]; /* SGID_ALLOWLISTS: each
	                                file read at start-up and on reload;
	                                owned (cfg_free) */
	size_t n_allowlists;

	struct redis_config redis;
	enum log_level log_level;    /* LOG_LEVEL, info */

	/* audit log */
	char audit_log[512];         /* AUDIT_LOG: "stderr" (default), "off" or
	                                an absolute file path */
	struct cidr_list trusted_proxies; /* TRUSTED_PROXIES: peers whose
	                                X-Forwarded-For is believed; none by default */
};

struct cfg_error {
	char var[64];                /* the variable at fault */
	char msg[256];               /* why; never the value of a secret */
};

/* Reads the environment, then fills gaps from dotenv_path (NULL or a
 * missing file: skipped; an unreadable or malformed file: error). 0 on
 * success; -1 with err filled. On failure cfg holds nothing to free.
 * A variable set to "" counts as unset (and an empty environment variable
 * still hides the file's value). The file is never copied into the
 * environment. Errors in the file itself name the variable ".env". */
int cfg_load(struct config *cfg, const char *dotenv_path, struct cfg_error *err);
/* Only the Singpass key variables (SINGPASS_*_KEY_FILE, SINGPASS_*_KEY_ID
 * and their _PREVIOUS_ forms) into sp, whatever LOGIN_PROVIDER says: for
 * `sgid-fcgi jwks`, which needs nothing else. Same rules and errors. */
int cfg_load_singpass_keys(struct singpass_config *sp, const char *dotenv_path,
	struct cfg_error *err);
/* The variable of key slot 0..3 (the order of key_files): its _FILE, or
 * with kid its _ID ("SINGPASS_ENCRYPTION_KEY_PREVIOUS_ID"). */
const char *cfg_singpass_key_var(size_t slot, bool kid);
void cfg_free(struct config *cfg); /* frees the key, wipes secrets */

#endif
