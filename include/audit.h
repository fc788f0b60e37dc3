/* audit: who logged in, out, failed to, or came back with an expired
 * session, as one JSON object per line, to AUDIT_LOG (a file opened for
 * append, or stderr). A line is one write(2) under PIPE_BUF, so lines from
 * every thread and worker never interleave; the descriptor is non-blocking,
 * so a full disk, a stalled pipe or any write error drops the event (counted
 * in audit_dropped) and never holds a request. Never given a token, cookie,
 * code, NRIC or profile value: sub is sgID's opaque subject. */
#ifndef SGID_AUDIT_H
#define SGID_AUDIT_H

#include <stdbool.h>
#include "buf.h"
#include "cidr.h"

#define AUDIT_LINE_MAX 4000        /* < PIPE_BUF (4096): one atomic write */
#define AUDIT_USER_AGENT_MAX 256   /* bytes of User-Agent kept */
#define AUDIT_RULE_MAX 64          /* bytes of a rule's name kept */
#define AUDIT_SUB_MAX 256          /* bytes of sub kept (sgID's are ~40) */
/* At most one warning about dropped events per this many ms, per process. */
#define AUDIT_WARN_INTERVAL_MS 60000

enum audit_event {
	AUDIT_LOGIN_SUCCESS,
	AUDIT_LOGIN_FAILURE,
	AUDIT_LOGOUT,
	AUDIT_SESSION_EXPIRED,
	AUDIT_ACCESS_DENIED,         /* logged in, refused by a location's rule */
	AUDIT_EVENT__MAX
};
const char *audit_event_name(enum audit_event ev);

/* What happened; NULL members are left out of the line. */
struct audit_record {
	enum audit_event event;
	const char *outcome;         /* "success", "failure", "denied" */
	const char *cause;           /* failures: a name of outcome.h */
	const char *sub;
	const char *rule;            /* access_denied: the rule's name
	                                (SGID_REQUIRE_NAME, checked by the
	                                caller: at most AUDIT_RULE_MAX bytes of
	                                [A-Za-z0-9._-]) */
};

/* Who asked: the web server's FastCGI parameters (NULL when absent). */
struct audit_peer {
	const char *remote_addr;     /* REMOTE_ADDR */
	const char *forwarded_for;   /* HTTP_X_FORWARDED_FOR */
	const char *user_agent;      /* HTTP_USER_AGENT */
};

/* dest: "stderr", "off" or an absolute path (created 0640, appended to).
 * trusted: the proxies whose X-Forwarded-For is believed (copied; NULL:
 * none). Called before the request threads start; replaces an earlier
 * destination. 0, or -1 with err filled. */
int audit_open(const char *dest, const struct cidr_list *trusted, char *err, size_t err_len);
/* Opens the path again (logrotate moved it away), between requests or
 * during them: writers hold a read lock, the swap a write lock. Nothing
 * to do for stderr or off. 0, or -1 (the old file is kept, an error logged). */
int audit_reopen(void);
void audit_close(void);
bool audit_enabled(void);

/* Writes one line: the time, the log's request id, r and the client of p.
 * false when the event was dropped (counted in audit_dropped); true when
 * written, or when the audit is off. */
bool audit_write(const struct audit_record *r, const struct audit_peer *p);
/* Events lost to write errors since the process started. */
unsigned long audit_dropped(void);

/* The line audit_write would write (with its newline), for tests. 0 or -1. */
int audit_format(const struct audit_record *r, const struct audit_peer *p, struct buf *out);
/* The client: REMOTE_ADDR, or when that is a trusted proxy, the first
 * address of X-Forwarded-For, walking from the right, that is not a
 * trusted proxy (entries a client wrote itself, on the left, are never
 * reached past an untrusted hop). An entry that is no address stops the
 * walk at the last address seen. */
void audit_client(const struct cidr_list *trusted, const char *remote_addr,
	const char *forwarded_for, char out[IP_TEXT_MAX]);

#endif
