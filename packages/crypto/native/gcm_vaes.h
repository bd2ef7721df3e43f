/* gcm_vaes: AES-256-GCM (and GMAC) over a list of buffers in place, sixteen blocks at a time in
 * 512-bit registers (VAES for the AES rounds, VPCLMULQDQ for GHASH), for CPUs that have them:
 * Node's OpenSSL 3.0 has no such path, and its 128-bit one runs at about half the rate there
 * (packages/crypto/bench). The same contract as gcm_in_place.h, which calls it where
 * gcm_vaes_supported() says so; nothing here is global. */
#ifndef SEALKEEP_GCM_VAES_H
#define SEALKEEP_GCM_VAES_H

#include "gcm_in_place.h"

/* Whether this CPU has AES-NI, PCLMULQDQ, AVX-512 F and BW, VAES and VPCLMULQDQ, and the OS saves
 * the registers. */
int gcm_vaes_supported(void);

/* As gcm_in_place(), without its OpenSSL failures: encrypting returns 1; decrypting returns 1
 * when the tag holds, 0 when not (compared in constant time). */
int gcm_vaes(bool encrypt, bool authenticate_only, const uint8_t key[GCM_KEY_BYTES], const uint8_t iv[GCM_IV_BYTES],
             const uint8_t *aad, size_t aad_length, const gcm_part *parts, size_t part_count, uint8_t tag[GCM_TAG_BYTES]);

#endif
