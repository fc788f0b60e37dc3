/* provider_singpass: Singpass FAPI 2.0 behind the provider seam. */
#ifndef SGID_PROVIDER_SINGPASS_H
#define SGID_PROVIDER_SINGPASS_H

#include "provider.h"
#include "singpass.h"

/* Fills p->ops and p->impl (p's cfg, http and metrics already set) over the
 * process's shared state, or, when shared is NULL, own (taken over: freed
 * with p). 0, or -1 with p->errstr and nothing left to free. */
int provider_singpass_init_with(struct provider *p, struct singpass_shared *shared,
	struct singpass_shared *own);

/* The process's shared state: the RP's keys of cfg->singpass (rp_keys_load;
 * err names the key at fault), discovery and JWKS empty until the first
 * login. NULL with err on failure; singpass_shared_free + free end it. */
struct singpass_shared *provider_singpass_shared_load(const struct config *cfg, char *err,
	size_t err_len);
/* The seam's shared_new / shared_free (provider_impl.h): the same, the
 * error logged. */
void *provider_singpass_shared_new(const struct config *cfg);
void provider_singpass_shared_free(void *state);

/* p's Singpass client (its errstr, idt_err and counters), for tests. */
const struct singpass_client *provider_singpass_client(const struct provider *p);

#endif
