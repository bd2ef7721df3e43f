/* sha256_pairs: two SHA-256 hashes at once with SHA-NI, for sector tags and Merkle nodes (see the header).
 * The SHA instructions hold SHA-256's working variables in two registers, ABEF and CDGH (lanes
 * from high to low: A B E F, and C D G H); SHA256RNDS2 runs two rounds on them, taking the two
 * message words plus round constants from the low half of its third operand, and SHA256MSG1/2
 * compute the message schedule four words at a time. Each step below is written once for both
 * sectors, so the core always has the other sector's instruction to run while one waits.
 * Both messages of a call have the same length, so both run the same blocks; a sector tag's are:
 *   inner: pad state, then [volume id, LBA, generation, first 32 bytes of the sector],
 *          the sector's next 64-byte blocks, [its last 32 bytes, 0x80, zeros, bit length]
 *   outer: pad state, then [inner digest, 0x80, zeros, bit length]                          */
#include "sha256_pairs.h"
#include "byte_order.h"
#include "sha256_constants.h"
#include "sector_tag_blocks.h"

#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <openssl/crypto.h>

#if defined(__x86_64__)

#define PAIRS_TARGET __attribute__((target("sha,sse4.1,ssse3")))

int sha256_pairs_supported(void) {
  __builtin_cpu_init(); /* (libgcc reads CPUID once and keeps the answer) */
  return __builtin_cpu_supports("sha") && __builtin_cpu_supports("sse4.1") && __builtin_cpu_supports("ssse3");
}

/* Both sectors' working variables in the instructions' layout. */
typedef struct {
  __m128i abef, cdgh;
} sha_state;

/* From H0..H7 (H0 lowest) to ABEF and CDGH, and back. */
PAIRS_TARGET static sha_state state_from_words(const uint32_t h[8]) {
  const __m128i abcd = _mm_loadu_si128((const __m128i *)h);     /* lanes D C B A, high to low */
  const __m128i efgh = _mm_loadu_si128((const __m128i *)(h + 4)); /* H G F E */
  const __m128i cdab = _mm_shuffle_epi32(abcd, 0xB1);           /* C D A B */
  const __m128i efgh_reversed = _mm_shuffle_epi32(efgh, 0x1B);  /* E F G H */
  sha_state s;
  s.abef = _mm_alignr_epi8(cdab, efgh_reversed, 8);             /* A B E F */
  s.cdgh = _mm_blend_epi16(efgh_reversed, cdab, 0xF0);          /* C D G H */
  return s;
}

/* From ABEF and CDGH back to H0..H7. */
PAIRS_TARGET static void state_to_words(sha_state s, uint32_t h[8]) {
  const __m128i feba = _mm_shuffle_epi32(s.abef, 0x1B);  /* F E B A */
  const __m128i dchg = _mm_shuffle_epi32(s.cdgh, 0xB1);  /* D C H G */
  _mm_storeu_si128((__m128i *)h, _mm_blend_epi16(feba, dchg, 0xF0));      /* D C B A */
  _mm_storeu_si128((__m128i *)(h + 4), _mm_alignr_epi8(dchg, feba, 8));   /* H G F E */
}

/* Four rounds on each sector, message words m0[q & 3] and m1[q & 3] (plus their constants) for rounds 4q..4q+3. */
#define FOUR_ROUNDS(q)                                                                             \
  do {                                                                                             \
    const __m128i k = _mm_load_si128((const __m128i *)(ROUND_CONSTANTS + 4 * (q)));               \
    __m128i x0 = _mm_add_epi32(m0[(q) & 3], k), x1 = _mm_add_epi32(m1[(q) & 3], k);               \
    s0.cdgh = _mm_sha256rnds2_epu32(s0.cdgh, s0.abef, x0);                                       \
    s1.cdgh = _mm_sha256rnds2_epu32(s1.cdgh, s1.abef, x1);                                       \
    x0 = _mm_shuffle_epi32(x0, 0x0E), x1 = _mm_shuffle_epi32(x1, 0x0E);                           \
    s0.abef = _mm_sha256rnds2_epu32(s0.abef, s0.cdgh, x0);                                       \
    s1.abef = _mm_sha256rnds2_epu32(s1.abef, s1.cdgh, x1);                                       \
  } while (0)
/* Message words 4q..4q+3 (q ≥ 4) into the ring's slot of words 4q-16..4q-13. */
#define SCHEDULE(m, q)                                                                             \
  m[(q) & 3] = _mm_sha256msg2_epu32(                                                               \
    _mm_add_epi32(_mm_sha256msg1_epu32(m[(q) & 3], m[((q) + 1) & 3]), _mm_alignr_epi8(m[((q) + 3) & 3], m[((q) + 2) & 3], 4)), \
    m[((q) + 3) & 3])
#define SCHEDULED_FOUR_ROUNDS(q) \
  SCHEDULE(m0, q);               \
  SCHEDULE(m1, q);               \
  FOUR_ROUNDS(q)

/* One 64-byte block for each sector, block0 and block1, into its state. The loads, rounds and
 * sums are one function, so that the message words and states stay in registers throughout. */
PAIRS_TARGET static void compress_pair(sha_state *state0, sha_state *state1, const uint8_t *block0, const uint8_t *block1) {
  const __m128i big_endian = _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
  __m128i m0[4], m1[4];
  for (int i = 0; i < 4; i++) {
    m0[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(block0 + 16 * i)), big_endian);
    m1[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(block1 + 16 * i)), big_endian);
  }
  sha_state s0 = *state0, s1 = *state1;
  FOUR_ROUNDS(0);
  FOUR_ROUNDS(1);
  FOUR_ROUNDS(2);
  FOUR_ROUNDS(3);
  SCHEDULED_FOUR_ROUNDS(4);
  SCHEDULED_FOUR_ROUNDS(5);
  SCHEDULED_FOUR_ROUNDS(6);
  SCHEDULED_FOUR_ROUNDS(7);
  SCHEDULED_FOUR_ROUNDS(8);
  SCHEDULED_FOUR_ROUNDS(9);
  SCHEDULED_FOUR_ROUNDS(10);
  SCHEDULED_FOUR_ROUNDS(11);
  SCHEDULED_FOUR_ROUNDS(12);
  SCHEDULED_FOUR_ROUNDS(13);
  SCHEDULED_FOUR_ROUNDS(14);
  SCHEDULED_FOUR_ROUNDS(15);
  state0->abef = _mm_add_epi32(state0->abef, s0.abef), state0->cdgh = _mm_add_epi32(state0->cdgh, s0.cdgh);
  state1->abef = _mm_add_epi32(state1->abef, s1.abef), state1->cdgh = _mm_add_epi32(state1->cdgh, s1.cdgh);
}

/* The digest of a state: its words, big-endian. */
PAIRS_TARGET static void put_digest(sha_state s, uint8_t digest[32]) {
  uint32_t words[8];
  state_to_words(s, words);
  for (int i = 0; i < 8; i++) put_u32_be(digest + 4 * i, words[i]);
}

/* The digest of a state followed by SHA-256's padding for a 96-byte message: the outer block of
 * an HMAC whose inner hash ended in this state. */
PAIRS_TARGET static void outer_block(sha_state inner, uint8_t block[64]) {
  put_digest(inner, block);
  memset(block + 32, 0, 32);
  block[32] = 0x80;
  put_u64_be(block + 56, (64 + 32) * 8);
}

PAIRS_TARGET void hmac_sha256_pairs_pads(const uint8_t key[32], hmac_sha256_pads *pads) {
  uint8_t block[2][64];
  for (int k = 0; k < 64; k++) {
    block[0][k] = (uint8_t)((k < 32 ? key[k] : 0) ^ 0x36);
    block[1][k] = (uint8_t)((k < 32 ? key[k] : 0) ^ 0x5c);
  }
  sha_state inner = state_from_words(INITIAL_STATE), outer = inner;
  compress_pair(&inner, &outer, block[0], block[1]);
  state_to_words(inner, pads->inner);
  state_to_words(outer, pads->outer);
  OPENSSL_cleanse(block, sizeof block);
  OPENSSL_cleanse(&inner, sizeof inner);
  OPENSSL_cleanse(&outer, sizeof outer);
}

PAIRS_TARGET void sha256_pairs(const uint8_t *const messages[2], size_t length, uint8_t digests[2][32]) {
  sha_state s0 = state_from_words(INITIAL_STATE), s1 = s0;
  size_t done = 0;
  for (; done + 64 <= length; done += 64) compress_pair(&s0, &s1, messages[0] + done, messages[1] + done);
  /* The rest, 0x80, zeros and the bit length: one block, or two when the rest leaves no room for the length. */
  const size_t rest = length - done, tail_blocks = rest + 9 <= 64 ? 1 : 2;
  uint8_t tail[2][128];
  for (int j = 0; j < 2; j++) {
    memcpy(tail[j], messages[j] + done, rest);
    memset(tail[j] + rest, 0, 64 * tail_blocks - rest);
    tail[j][rest] = 0x80;
    put_u64_be(tail[j] + 64 * tail_blocks - 8, (uint64_t)length * 8);
  }
  for (size_t b = 0; b < tail_blocks; b++) compress_pair(&s0, &s1, tail[0] + 64 * b, tail[1] + 64 * b);
  put_digest(s0, digests[0]);
  put_digest(s1, digests[1]);
}

PAIRS_TARGET void tag_pairs(const hmac_sha256_pads *pads, const uint8_t volume_id[16], const uint64_t lbas[2],
                            const uint64_t generations[2], const uint8_t *const sectors[2], size_t sector_size,
                            uint8_t tags[2][32]) {
  uint8_t first[2][64], last[2][64];
  for (int j = 0; j < 2; j++) sector_tag_blocks(volume_id, lbas[j], generations[j], sectors[j], sector_size, first[j], last[j]);
  sha_state s0 = state_from_words(pads->inner), s1 = s0;
  compress_pair(&s0, &s1, first[0], first[1]);
  for (size_t offset = 32; offset + 64 <= sector_size; offset += 64) compress_pair(&s0, &s1, sectors[0] + offset, sectors[1] + offset);
  compress_pair(&s0, &s1, last[0], last[1]);

  outer_block(s0, first[0]);
  outer_block(s1, first[1]);
  s0 = state_from_words(pads->outer), s1 = s0;
  compress_pair(&s0, &s1, first[0], first[1]);
  put_digest(s0, tags[0]);
  put_digest(s1, tags[1]);
}

#else /* not x86-64: no SHA-NI pairs; tag keys and Merkle roots stay on OpenSSL's path */

int sha256_pairs_supported(void) {
  return 0;
}

void hmac_sha256_pairs_pads(const uint8_t key[32], hmac_sha256_pads *pads) {
  (void)key, (void)pads;
  abort();
}

void sha256_pairs(const uint8_t *const messages[2], size_t length, uint8_t digests[2][32]) {
  (void)messages, (void)length, (void)digests;
  abort();
}

void tag_pairs(const hmac_sha256_pads *pads, const uint8_t volume_id[16], const uint64_t lbas[2],
               const uint64_t generations[2], const uint8_t *const sectors[2], size_t sector_size, uint8_t tags[2][32]) {
  (void)pads, (void)volume_id, (void)lbas, (void)generations, (void)sectors, (void)sector_size, (void)tags;
  abort();
}

#endif
