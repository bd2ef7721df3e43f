/* sector_tags_lanes: HMAC-SHA-256 sector tags for sixteen sectors at once, one sector in each
 * 32-bit lane of AVX-512 registers. SHA-256's rounds form one long dependency chain, and a core's
 * SHA instructions run one block of one message at a time; sixteen independent sectors in lanes
 * use the vector units instead, at about twice the rate of one stream through OpenSSL on a core
 * with AVX-512 (packages/crypto/bench). The tag format is the one in sector_crypto.h. Used only
 * where sha256_lanes_supported() says so; nothing here is global or keeps state between calls. */
#ifndef SEALKEEP_SECTOR_TAGS_LANES_H
#define SEALKEEP_SECTOR_TAGS_LANES_H

#include <stddef.h>
#include <stdint.h>

#include "sector_tag_blocks.h" /* hmac_sha256_pads */

#define TAG_LANES 16

/* Whether this CPU has AVX-512 F and BW and the operating system saves their registers. */
int sha256_lanes_supported(void);

/* The pads' states for a 32-byte HMAC key. Only where sha256_lanes_supported(). */
void hmac_sha256_lanes_pads(const uint8_t key[32], hmac_sha256_pads *pads);

/* Tags sixteen sectors: lane j is sectors[j] (sector_size bytes, a multiple of 64 from 64 up) at
 * lbas[j] with generations[j], its tag written to tags[j]. Callers with fewer sectors repeat one;
 * its extra tags are theirs to ignore. Only where sha256_lanes_supported(). */
void tag_lanes(const hmac_sha256_pads *pads, const uint8_t volume_id[16], const uint64_t lbas[TAG_LANES],
               const uint64_t generations[TAG_LANES], const uint8_t *const sectors[TAG_LANES], size_t sector_size,
               uint8_t tags[TAG_LANES][32]);

#endif
