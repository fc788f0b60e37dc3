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

/* p's Singpass client (its errstr, idt_err and counters), for tests. */
const struct singpass_client *provider_singpass_client(const struct provider *p);

#endif
