/* provider: the seam's dispatch. One table row per implementation built
 * in; LOGIN_PROVIDER picks the row. The handlers call p->ops only. */
#include "provider.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider_impl.h"
#include "util.h"

struct provider_impl {
	enum login_provider which;
	int (*init)(struct provider *p);
	void *(*shared_new)(const struct config *cfg);
	void (*shared_free)(void *state);
};

/* A provider missing here is "not built" (its module adds its row). */
static const struct provider_impl impls[] = {
	{ LOGIN_PROVIDER_SGID, provider_sgid_init, provider_sgid_shared_new,
	  provider_sgid_shared_free },
	{ LOGIN_PROVIDER_SINGPASS, provider_singpass_init, provider_singpass_shared_new,
	  provider_singpass_shared_free },
};

static const char *const provider_names[] = {
	[LOGIN_PROVIDER_SGID] = "sgid",
	[LOGIN_PROVIDER_SINGPASS] = "singpass",
};

static const char *name_of(enum login_provider w)
{
	return (unsigned)w < ARRAY_LEN(provider_names) && provider_names[w] ? provider_names[w]
	                                                                    : "unknown";
}

static const struct provider_impl *impl_of(enum login_provider w)
{
	for (size_t i = 0; i < ARRAY_LEN(impls); i++)
		if (impls[i].which == w)
			return &impls[i];
	return NULL;
}

void provider_set_err(struct provider *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->errstr, sizeof(p->errstr), fmt, ap);
	va_end(ap);
}

void *provider_shared_state(const struct provider *p)
{
	return p->shared ? p->shared->state : NULL;
}

/* A provider this build lacks gets an empty one: provider_init then says
 * why, in every request thread's log line. */
struct provider_shared *provider_shared_new(const struct config *cfg)
{
	const struct provider_impl *im = impl_of(cfg->login_provider);
	struct provider_shared *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->which = cfg->login_provider;
	s->state = im ? im->shared_new(cfg) : NULL;
	if (im && !s->state) {
		free(s);
		return NULL;
	}
	return s;
}

void provider_shared_free(struct provider_shared *s)
{
	if (!s)
		return;
	const struct provider_impl *im = impl_of(s->which);
	if (im)
		im->shared_free(s->state);
	free(s);
}

int provider_init(struct provider *p, const struct config *cfg, struct httpc *http,
	struct provider_shared *shared)
{
	memset(p, 0, sizeof(*p));
	p->cfg = cfg;
	p->http = http;
	p->shared = shared;
	const struct provider_impl *im = impl_of(cfg->login_provider);
	if (!im) {
		provider_set_err(p, "LOGIN_PROVIDER=%s: not built", name_of(cfg->login_provider));
		return -1;
	}
	if (shared && shared->which != cfg->login_provider) {
		provider_set_err(p, "LOGIN_PROVIDER=%s: the shared state is another provider's",
		                 name_of(cfg->login_provider));
		return -1;
	}
	if (im->init(p) != 0) {
		p->ops = NULL;
		return -1;
	}
	return 0;
}

void provider_free(struct provider *p)
{
	if (!p)
		return;
	if (p->ops && p->ops->free)
		p->ops->free(p);
	p->ops = NULL;
	p->impl = NULL;
	p->issuer = NULL;
}
