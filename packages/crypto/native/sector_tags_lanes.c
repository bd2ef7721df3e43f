/* sector_tags_lanes: sixteen HMAC-SHA-256 sector tags at once in AVX-512 lanes (see the header).
 * SHA-256 as FIPS 180-4 defines it, written for vectors of sixteen 32-bit words: register w[t]
 * holds message word t of every lane's block, register a holds working variable a of every lane.
 * Every sector of a call has the same length, so the lanes run the same blocks in step:
 *   inner: pad state, then [volume id, LBA, generation, first 32 bytes of the sector],
 *          the sector's next 64-byte blocks, [its last 32 bytes, 0x80, zeros, bit length]
 *   outer: pad state, then [inner digest, 0x80, zeros, bit length]                          */
#include "sector_tags_lanes.h"
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

#define LANES_TARGET __attribute__((target("avx512f,avx512bw")))

int sha256_lanes_supported(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
}

/* Three-input logic (vpternlogd): the immediate is the truth table over (x, y, z). */
#define XOR3(x, y, z) _mm512_ternarylogic_epi32(x, y, z, 0x96)
#define CHOOSE(x, y, z) _mm512_ternarylogic_epi32(x, y, z, 0xCA)   /* x ? y : z */
#define MAJORITY(x, y, z) _mm512_ternarylogic_epi32(x, y, z, 0xE8)
#define ROR(x, n) _mm512_ror_epi32(x, n)
#define ADD(x, y) _mm512_add_epi32(x, y)
#define BIG_SIGMA0(x) XOR3(ROR(x, 2), ROR(x, 13), ROR(x, 22))
#define BIG_SIGMA1(x) XOR3(ROR(x, 6), ROR(x, 11), ROR(x, 25))
#define SMALL_SIGMA0(x) XOR3(ROR(x, 7), ROR(x, 18), _mm512_srli_epi32(x, 3))
#define SMALL_SIGMA1(x) XOR3(ROR(x, 17), ROR(x, 19), _mm512_srli_epi32(x, 10))

/* Round t on (a..h) named in rotation, so that no variable is moved: d and h take the results. */
#define ROUND(a, b, c, d, e, f, g, h, t)                                                                \
  do {                                                                                                  \
    __m512i t1 = ADD(ADD(h, BIG_SIGMA1(e)),                                                             \
                     ADD(CHOOSE(e, f, g), ADD(w[(t) & 15], _mm512_set1_epi32((int)ROUND_CONSTANTS[t])))); \
    __m512i t2 = ADD(BIG_SIGMA0(a), MAJORITY(a, b, c));                                                 \
    d = ADD(d, t1);                                                                                     \
    h = ADD(t1, t2);                                                                                    \
  } while (0)
/* Message word t from t ≥ 16, in the slot of word t - 16 (a ring of sixteen). */
#define SCHEDULE(t)                                                                        \
  w[(t) & 15] = ADD(ADD(w[(t) & 15], SMALL_SIGMA0(w[((t) + 1) & 15])),                   \
                    ADD(w[((t) + 9) & 15], SMALL_SIGMA1(w[((t) + 14) & 15])))
#define EIGHT_ROUNDS(t)                                                                    \
  ROUND(a, b, c, d, e, f, g, h, (t) + 0); ROUND(h, a, b, c, d, e, f, g, (t) + 1);          \
  ROUND(g, h, a, b, c, d, e, f, (t) + 2); ROUND(f, g, h, a, b, c, d, e, (t) + 3);          \
  ROUND(e, f, g, h, a, b, c, d, (t) + 4); ROUND(d, e, f, g, h, a, b, c, (t) + 5);          \
  ROUND(c, d, e, f, g, h, a, b, (t) + 6); ROUND(b, c, d, e, f, g, h, a, (t) + 7)
#define EIGHT_SCHEDULED_ROUNDS(t)                                                          \
  SCHEDULE((t) + 0); ROUND(a, b, c, d, e, f, g, h, (t) + 0);                               \
  SCHEDULE((t) + 1); ROUND(h, a, b, c, d, e, f, g, (t) + 1);                               \
  SCHEDULE((t) + 2); ROUND(g, h, a, b, c, d, e, f, (t) + 2);                               \
  SCHEDULE((t) + 3); ROUND(f, g, h, a, b, c, d, e, (t) + 3);                               \
  SCHEDULE((t) + 4); ROUND(e, f, g, h, a, b, c, d, (t) + 4);                               \
  SCHEDULE((t) + 5); ROUND(d, e, f, g, h, a, b, c, (t) + 5);                               \
  SCHEDULE((t) + 6); ROUND(c, d, e, f, g, h, a, b, (t) + 6);                               \
  SCHEDULE((t) + 7); ROUND(b, c, d, e, f, g, h, a, (t) + 7)

/* One block in every lane: state[i] holds working word i of all sixteen; w is consumed. Written
 * out in full, because the compiler keeps the ring and the state in registers only then. */
LANES_TARGET static void compress(__m512i state[8], __m512i w[16]) {
  __m512i a = state[0], b = state[1], c = state[2], d = state[3], e = state[4], f = state[5], g = state[6],
          h = state[7];
  EIGHT_ROUNDS(0);
  EIGHT_ROUNDS(8);
  EIGHT_SCHEDULED_ROUNDS(16);
  EIGHT_SCHEDULED_ROUNDS(24);
  EIGHT_SCHEDULED_ROUNDS(32);
  EIGHT_SCHEDULED_ROUNDS(40);
  EIGHT_SCHEDULED_ROUNDS(48);
  EIGHT_SCHEDULED_ROUNDS(56);
  state[0] = ADD(state[0], a), state[1] = ADD(state[1], b), state[2] = ADD(state[2], c), state[3] = ADD(state[3], d);
  state[4] = ADD(state[4], e), state[5] = ADD(state[5], f), state[6] = ADD(state[6], g), state[7] = ADD(state[7], h);
}

/* r[j] holds sixteen words of lane j; afterwards r[i] holds word i of every lane. */
LANES_TARGET static void transpose(__m512i r[16]) {
  __m512i pairs[16], quads[16];
  for (int i = 0; i < 8; i++) {
    pairs[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    pairs[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  /* quads[4q + m]: word m of each 128-bit quarter's four words, for lanes 4q..4q+3 */
  for (int q = 0; q < 4; q++) {
    quads[4 * q + 0] = _mm512_unpacklo_epi64(pairs[4 * q], pairs[4 * q + 2]);
    quads[4 * q + 1] = _mm512_unpackhi_epi64(pairs[4 * q], pairs[4 * q + 2]);
    quads[4 * q + 2] = _mm512_unpacklo_epi64(pairs[4 * q + 1], pairs[4 * q + 3]);
    quads[4 * q + 3] = _mm512_unpackhi_epi64(pairs[4 * q + 1], pairs[4 * q + 3]);
  }
  for (int m = 0; m < 4; m++) {
    __m512i even_low = _mm512_shuffle_i32x4(quads[m], quads[4 + m], 0x88);
    __m512i odd_low = _mm512_shuffle_i32x4(quads[m], quads[4 + m], 0xDD);
    __m512i even_high = _mm512_shuffle_i32x4(quads[8 + m], quads[12 + m], 0x88);
    __m512i odd_high = _mm512_shuffle_i32x4(quads[8 + m], quads[12 + m], 0xDD);
    r[m] = _mm512_shuffle_i32x4(even_low, even_high, 0x88);
    r[4 + m] = _mm512_shuffle_i32x4(odd_low, odd_high, 0x88);
    r[8 + m] = _mm512_shuffle_i32x4(even_low, even_high, 0xDD);
    r[12 + m] = _mm512_shuffle_i32x4(odd_low, odd_high, 0xDD);
  }
}

/* Message words of lane j's 64-byte block at blocks[j] + offset, big-endian as SHA-256 reads them. */
LANES_TARGET static void load_blocks(__m512i w[16], const uint8_t *const blocks[TAG_LANES], size_t offset) {
  const __m512i big_endian =
    _mm512_broadcast_i32x4(_mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3));
  for (int j = 0; j < TAG_LANES; j++) w[j] = _mm512_shuffle_epi8(_mm512_loadu_si512(blocks[j] + offset), big_endian);
  transpose(w);
}

LANES_TARGET static void broadcast_state(__m512i state[8], const uint32_t words[8]) {
  for (int i = 0; i < 8; i++) state[i] = _mm512_set1_epi32((int)words[i]);
}

LANES_TARGET void hmac_sha256_lanes_pads(const uint8_t key[32], hmac_sha256_pads *pads) {
  __m512i state[8], w[16];
  uint32_t lanes[TAG_LANES];
  for (int pad = 0; pad < 2; pad++) {
    const uint8_t fill = pad == 0 ? 0x36 : 0x5c;
    uint32_t *out = pad == 0 ? pads->inner : pads->outer;
    for (int i = 0; i < 16; i++) {
      uint8_t word[4];
      for (int k = 0; k < 4; k++) word[k] = (uint8_t)((4 * i + k < 32 ? key[4 * i + k] : 0) ^ fill);
      w[i] = _mm512_set1_epi32((int)get_u32_be(word));
    }
    broadcast_state(state, INITIAL_STATE);
    compress(state, w);
    for (int i = 0; i < 8; i++) {
      _mm512_storeu_si512(lanes, state[i]);
      out[i] = lanes[0];
    }
  }
  OPENSSL_cleanse(lanes, sizeof lanes);
  OPENSSL_cleanse(state, sizeof state);
  OPENSSL_cleanse(w, sizeof w);
}

LANES_TARGET void tag_lanes(const hmac_sha256_pads *pads, const uint8_t volume_id[16], const uint64_t lbas[TAG_LANES],
                            const uint64_t generations[TAG_LANES], const uint8_t *const sectors[TAG_LANES], size_t sector_size,
                            uint8_t tags[TAG_LANES][32]) {
  uint8_t first[TAG_LANES][64], last[TAG_LANES][64];
  const uint8_t *firsts[TAG_LANES], *lasts[TAG_LANES];
  for (int j = 0; j < TAG_LANES; j++) {
    sector_tag_blocks(volume_id, lbas[j], generations[j], sectors[j], sector_size, first[j], last[j]);
    firsts[j] = first[j];
    lasts[j] = last[j];
  }
  __m512i state[8], w[16];
  broadcast_state(state, pads->inner);
  load_blocks(w, firsts, 0);
  compress(state, w);
  for (size_t offset = 32; offset + 64 <= sector_size; offset += 64) {
    load_blocks(w, sectors, offset);
    compress(state, w);
  }
  load_blocks(w, lasts, 0);
  compress(state, w);

  /* The outer block's words are the inner digest's words as they stand: no transpose. */
  for (int i = 0; i < 8; i++) w[i] = state[i];
  w[8] = _mm512_set1_epi32((int)0x80000000u);
  for (int i = 9; i < 15; i++) w[i] = _mm512_setzero_si512();
  w[15] = _mm512_set1_epi32((64 + 32) * 8);
  broadcast_state(state, pads->outer);
  compress(state, w);

  uint32_t words[8][TAG_LANES];
  for (int i = 0; i < 8; i++) _mm512_storeu_si512(words[i], state[i]);
  for (int j = 0; j < TAG_LANES; j++)
    for (int i = 0; i < 8; i++) put_u32_be(tags[j] + 4 * i, words[i][j]);
}

#else /* not x86-64: no lanes, and tag keys stay on OpenSSL's path */

int sha256_lanes_supported(void) {
  return 0;
}

void hmac_sha256_lanes_pads(const uint8_t key[32], hmac_sha256_pads *pads) {
  (void)key, (void)pads;
  abort();
}

void tag_lanes(const hmac_sha256_pads *pads, const uint8_t volume_id[16], const uint64_t lbas[TAG_LANES],
               const uint64_t generations[TAG_LANES], const uint8_t *const sectors[TAG_LANES], size_t sector_size,
               uint8_t tags[TAG_LANES][32]) {
  (void)pads, (void)volume_id, (void)lbas, (void)generations, (void)sectors, (void)sector_size, (void)tags;
  abort();
}

#endif
