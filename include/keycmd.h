/* keycmd: the Singpass RP key commands beside the server, neither needing
 * Redis nor the network: `jwks` prints the public JWKS of the configured
 * key files (to register in the Singpass Developer Portal), `keygen DIR`
 * writes a fresh signing key and encryption key. */
#ifndef SGID_KEYCMD_H
#define SGID_KEYCMD_H

#include <stdbool.h>

#define KEYCMD_SIGNING_FILE    "singpass-signing.pem"
#define KEYCMD_ENCRYPTION_FILE "singpass-encryption.pem"

/* True when argv[1] names a key command. */
bool keycmd_is_command(const char *arg);
/* argv[0] is the command. Exit status 0 done, 1 keygen could not write
 * (a file already there, I/O), 2 configuration error (jwks), 64 usage. */
int keycmd_main(int argc, char **argv);

#endif
