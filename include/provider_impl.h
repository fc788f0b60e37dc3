/* provider_impl: what provider.c needs of each implementation, and what
 * an implementation may see of the seam. Included by provider.c and the
 * provider_*.c modules only; the handlers see provider.h alone. */
#ifndef SGID_PROVIDER_IMPL_H
#define SGID_PROVIDER_IMPL_H

#include "cfg.h"
#include "provider.h"

/* The process's shared state: the one implementation's own (its JWKS,
 * discovery, behind its own locks), from its shared_new. */
struct provider_shared {
	enum login_provider which;
	void *state;
};

/* The implementation's shared state for p, NULL when p has none (a
 * thread of its own: the implementation keeps its own). */
void *provider_shared_state(const struct provider *p);

/* One error-detail setter for every implementation (p->errstr). */
void provider_set_err(struct provider *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Each implementation: init fills p->ops and p->impl (p's cfg, http,
 * shared and metrics already set) and returns 0, or -1 with p->errstr;
 * shared_new/free make and end its process-wide state (NULL: failure). */
int provider_sgid_init(struct provider *p);
void *provider_sgid_shared_new(const struct config *cfg);
void provider_sgid_shared_free(void *state);
int provider_singpass_init(struct provider *p);
void *provider_singpass_shared_new(const struct config *cfg);
void provider_singpass_shared_free(void *state);

#endif
