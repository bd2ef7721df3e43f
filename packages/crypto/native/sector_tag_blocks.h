/* sector_tag_blocks: what the addon's own SHA-256 paths for sector tags (sector_tags_lanes.c,
 * sha256_pairs.c) share: the HMAC pads' states, and the two blocks of a tag's inner hash that do
 * not lie in the sector as it is (the format is in sector_crypto.h; the blocks between are read
 * from the sector in place):
 *   first: volume id[16] ‖ LBA u64 BE ‖ generation u64 BE ‖ the sector's first 32 bytes
 *   last:  the sector's last 32 bytes ‖ 0x80 ‖ zeros ‖ the message's bit length u64 BE
 * The message is the HMAC pad block, the 32-byte header and the sector. */
#ifndef SEALKEEP_SECTOR_TAG_BLOCKS_H
#define SEALKEEP_SECTOR_TAG_BLOCKS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "byte_order.h"

/* The SHA-256 states after HMAC's inner and outer pad blocks: key-equivalent, wiped with the key. */
typedef struct {
  uint32_t inner[8], outer[8];
} hmac_sha256_pads;

static inline void sector_tag_blocks(const uint8_t volume_id[16], uint64_t lba, uint64_t generation, const uint8_t *sector,
                                     size_t sector_size, uint8_t first[64], uint8_t last[64]) {
  memcpy(first, volume_id, 16);
  put_u64_be(first + 16, lba);
  put_u64_be(first + 24, generation);
  memcpy(first + 32, sector, 32);
  memcpy(last, sector + sector_size - 32, 32);
  memset(last + 32, 0, 24);
  last[32] = 0x80;
  put_u64_be(last + 56, (uint64_t)(64 + 32 + sector_size) * 8);
}

#endif
