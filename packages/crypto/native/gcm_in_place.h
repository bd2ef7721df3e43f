/* gcm_in_place: AES-256-GCM over a list of buffers, each encrypted or decrypted where it lies, or
 * (GMAC) only authenticated as additional data and left as it is (block sessions' sealed bodies,
 * packages/crypto/src/block-session.ts). */
#ifndef SEALKEEP_GCM_IN_PLACE_H
#define SEALKEEP_GCM_IN_PLACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GCM_KEY_BYTES 32
#define GCM_IV_BYTES 12
#define GCM_TAG_BYTES 16
/* The most GCM may take under one key and IV (NIST SP 800-38D §5.2.1.1), in bytes. */
#define GCM_MAX_TEXT_BYTES ((UINT64_C(1) << 36) - 32)
#define GCM_MAX_AAD_BYTES ((UINT64_C(1) << 61) - 1)

typedef struct {
  uint8_t *data;
  size_t length;
} gcm_part;

/* Encrypting: the parts become ciphertext and tag receives the tag; returns 1 (0 on an OpenSSL
 * failure, with *error set). Decrypting: the parts become plaintext; returns 1 when tag holds,
 * 0 when it does not (the parts then hold nothing to use, *error stays NULL), or 0 with *error
 * set on an OpenSSL failure. With authenticate_only the parts follow aad as additional data and
 * are neither read as plaintext nor written: "encrypting" only computes the tag (GMAC of aad and
 * the parts), "decrypting" only checks it. With allow_vaes, a CPU that has them takes gcm_vaes.h's
 * path instead of OpenSSL's; the bytes and the tag are the same. */
int gcm_in_place(bool encrypt, bool authenticate_only, bool allow_vaes, const uint8_t key[GCM_KEY_BYTES], const uint8_t iv[GCM_IV_BYTES],
                 const uint8_t *aad, size_t aad_length, const gcm_part *parts, size_t part_count,
                 uint8_t tag[GCM_TAG_BYTES], const char **error);

#endif
