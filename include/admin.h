/* admin: one-shot commands beside the server, on the same configuration
 * and store code: `revoke --sub SUB` ends every session of a user on every
 * host, `sessions --sub SUB` counts them. */
#ifndef SGID_ADMIN_H
#define SGID_ADMIN_H

#include <stdbool.h>
#include "cfg.h"

/* Loads the configuration from the environment and env_file (NULL:
 * ./.env, missing is fine) and sets the log level; on failure prints why
 * (never a secret's value) and returns -1. */
int admin_load_config(const char *env_file, struct config *cfg);
/* True when argv[1] names an admin command. */
bool admin_is_command(const char *arg);
/* argv[0] is the command. Prints the count on stdout; exit status 0, 1
 * (the store unavailable), 2 (configuration) or 64 (usage). */
int admin_main(int argc, char **argv);

#endif
