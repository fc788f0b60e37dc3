/* b64: base64url (RFC 4648 §5) without padding, as JOSE and PKCE use it. */
#ifndef SGID_B64_H
#define SGID_B64_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"

/* Appends the unpadded base64url encoding. 0 or -1 (allocation). */
int b64url_encode(const uint8_t *in, size_t len, struct buf *out);
/* Encoded length for len input bytes (no padding, no NUL). */
size_t b64url_encoded_len(size_t len);
/* Strict decoder: alphabet [A-Za-z0-9_-] only, no padding, no whitespace,
 * rejects lengths of 1 mod 4 and non-zero trailing bits.
 * Appends the bytes to out. 0 on success, -1 on bad input or allocation. */
int b64url_decode(const char *in, size_t len, struct buf *out);

#endif
