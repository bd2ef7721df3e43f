/* sha256_pairs: SHA-256 of two messages at once with the SHA instructions (SHA-NI), for HMAC
 * sector tags on CPUs that have them and no AVX-512, and for the Merkle tree's hashes. Where those
 * instructions are bound by their latency (AMD's Zen 3), one message's rounds leave the unit
 * idle between steps; two messages' rounds side by side fill it, 1.8 times as fast as one stream
 * (a scratch C program over 4 KiB messages; packages/crypto/src/block/README.md). The tag format is the one in sector_crypto.h. Used
 * only where sha256_pairs_supported() says so; nothing here is global or keeps state between calls. */
#ifndef SEALKEEP_SHA256_PAIRS_H
#define SEALKEEP_SHA256_PAIRS_H

#include <stddef.h>
#include <stdint.h>

#include "sector_tag_blocks.h" /* hmac_sha256_pads */

/* Whether this CPU has the SHA extensions, SSSE3 and SSE4.1. */
int sha256_pairs_supported(void);

/* The pads' states for a 32-byte HMAC key. Only where sha256_pairs_supported(). */
void hmac_sha256_pairs_pads(const uint8_t key[32], hmac_sha256_pads *pads);

/* SHA-256 of two messages of the same length: digests[j] of messages[j]. */
void sha256_pairs(const uint8_t *const messages[2], size_t length, uint8_t digests[2][32]);

/* Tags two sectors: sectors[j] (sector_size bytes, a multiple of 64 from 64 up) at lbas[j] with
 * generations[j], its tag written to tags[j]. Only where sha256_pairs_supported(). */
void tag_pairs(const hmac_sha256_pads *pads, const uint8_t volume_id[16], const uint64_t lbas[2],
               const uint64_t generations[2], const uint8_t *const sectors[2], size_t sector_size, uint8_t tags[2][32]);

#endif
