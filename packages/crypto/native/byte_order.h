/* byte_order: the big-endian integers the block formats write and read (a sector tag's LBA and
 * generation, SHA-256's message words, GCM's length block), wherever they lie in a buffer. */
#ifndef SEALKEEP_BYTE_ORDER_H
#define SEALKEEP_BYTE_ORDER_H

#include <stdint.h>

static inline void put_u64_be(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[7 - i] = (uint8_t)(v >> (8 * i));
}

static inline void put_u32_be(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[3 - i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t get_u32_be(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#endif
