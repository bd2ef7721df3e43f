/* gcm_vaes: AES-256-GCM as NIST SP 800-38D defines it (96-bit IV: J0 = IV ‖ 1; the data's counter
 * blocks from J0 + 1, the last 32 bits counting), sixteen blocks at a time (see gcm_vaes.h).
 *
 * GHASH works on blocks with their bytes reversed, so that GCM's bit order becomes the CPU's: the
 * 256-bit carry-less product of two such blocks, shifted left one bit, reduced modulo
 * x^128 + x^7 + x^2 + x + 1 (the reduction of Intel's "Carry-Less Multiplication and Its Usage for
 * Computing the GCM Mode"). Sixteen blocks are folded at once: with the powers H^16..H^1,
 *   X' = (X ^ B0)·H^16 ^ B1·H^15 ^ … ^ B15·H
 * summed unreduced (the shift and the reduction are linear) and reduced once. Additional data and
 * the text may come in any number of parts of any length: a partial block waits in the state. */
#include "gcm_vaes.h"
#include "byte_order.h"

#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <openssl/crypto.h>

#if defined(__x86_64__)

#define GCM_TARGET __attribute__((target("aes,pclmul,sse4.1,avx512f,avx512bw,vaes,vpclmulqdq")))

typedef struct {
  __m128i round_keys[15];
  __m128i h[16];    /* H^1..H^16, bytes reversed */
  __m128i x;        /* the GHASH so far, bytes reversed */
  __m128i counter;  /* the next counter block, bytes reversed: its counting word is the lowest */
  uint8_t ks[16];   /* the keystream of the text's partial block */
  size_t ks_used;   /* bytes of ks used; 16 when the text stands at a block's edge */
  uint8_t pending[16]; /* GHASH input short of a whole block */
  size_t pending_length;
} gcm_state;

/* H^16..H^1 in four vectors, lane order: block i of a run of sixteen meets H^(16-i). */
typedef struct {
  __m512i p[4];
} h_powers;

int gcm_vaes_supported(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("aes") && __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("vaes") && __builtin_cpu_supports("vpclmulqdq");
}

GCM_TARGET static inline __m128i reversed(__m128i v) {
  return _mm_shuffle_epi8(v, _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

GCM_TARGET static inline __m512i reversed4(__m512i v) {
  return _mm512_shuffle_epi8(v, _mm512_broadcast_i32x4(_mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)));
}

/* AES-256 key expansion (FIPS 197 §5.2) with AESKEYGENASSIST: `word` picks the assist's word. */
GCM_TARGET static __m128i next_round_key(__m128i previous, __m128i assist, int word) {
  assist = word == 3 ? _mm_shuffle_epi32(assist, 0xff) : _mm_shuffle_epi32(assist, 0xaa);
  previous = _mm_xor_si128(previous, _mm_slli_si128(previous, 4));
  previous = _mm_xor_si128(previous, _mm_slli_si128(previous, 4));
  previous = _mm_xor_si128(previous, _mm_slli_si128(previous, 4));
  return _mm_xor_si128(previous, assist);
}

GCM_TARGET static void expand_key(__m128i rk[15], const uint8_t key[GCM_KEY_BYTES]) {
  rk[0] = _mm_loadu_si128((const __m128i *)key);
  rk[1] = _mm_loadu_si128((const __m128i *)(key + 16));
/* Round keys i (word 3 of the assist, with the round constant) and i + 1 (word 2, none). */
#define ROUND_KEY_PAIR(i, rcon)                                                              \
  rk[i] = next_round_key(rk[(i) - 2], _mm_aeskeygenassist_si128(rk[(i) - 1], rcon), 3);     \
  rk[(i) + 1] = next_round_key(rk[(i) - 1], _mm_aeskeygenassist_si128(rk[i], 0x00), 2)
  ROUND_KEY_PAIR(2, 0x01);
  ROUND_KEY_PAIR(4, 0x02);
  ROUND_KEY_PAIR(6, 0x04);
  ROUND_KEY_PAIR(8, 0x08);
  ROUND_KEY_PAIR(10, 0x10);
  ROUND_KEY_PAIR(12, 0x20);
#undef ROUND_KEY_PAIR
  rk[14] = next_round_key(rk[12], _mm_aeskeygenassist_si128(rk[13], 0x40), 3);
}

GCM_TARGET static __m128i aes_block(const __m128i rk[15], __m128i block) {
  block = _mm_xor_si128(block, rk[0]);
  for (int r = 1; r < 14; r++) block = _mm_aesenc_si128(block, rk[r]);
  return _mm_aesenclast_si128(block, rk[14]);
}

/* (lo ^ mid·x^64 ^ hi·x^128), the unreduced product of two reversed blocks, reduced. */
GCM_TARGET static __m128i reduce(__m128i lo, __m128i mid, __m128i hi) {
  lo = _mm_xor_si128(lo, _mm_slli_si128(mid, 8));
  hi = _mm_xor_si128(hi, _mm_srli_si128(mid, 8));
  /* hi:lo one bit to the left, across the 32-bit words */
  __m128i carry_lo = _mm_srli_epi32(lo, 31), carry_hi = _mm_srli_epi32(hi, 31);
  __m128i across = _mm_srli_si128(carry_lo, 12);
  lo = _mm_or_si128(_mm_slli_epi32(lo, 1), _mm_slli_si128(carry_lo, 4));
  hi = _mm_or_si128(_mm_or_si128(_mm_slli_epi32(hi, 1), _mm_slli_si128(carry_hi, 4)), across);
  /* the low half folded into the high by the polynomial, in two steps */
  __m128i a = _mm_xor_si128(_mm_xor_si128(_mm_slli_epi32(lo, 31), _mm_slli_epi32(lo, 30)), _mm_slli_epi32(lo, 25));
  __m128i spill = _mm_srli_si128(a, 4);
  lo = _mm_xor_si128(lo, _mm_slli_si128(a, 12));
  __m128i b = _mm_xor_si128(_mm_xor_si128(_mm_srli_epi32(lo, 1), _mm_srli_epi32(lo, 2)), _mm_srli_epi32(lo, 7));
  lo = _mm_xor_si128(lo, _mm_xor_si128(b, spill));
  return _mm_xor_si128(hi, lo);
}

GCM_TARGET static __m128i multiply(__m128i a, __m128i b) {
  __m128i mid = _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x10), _mm_clmulepi64_si128(a, b, 0x01));
  return reduce(_mm_clmulepi64_si128(a, b, 0x00), mid, _mm_clmulepi64_si128(a, b, 0x11));
}

GCM_TARGET static h_powers powers(const gcm_state *s) {
  h_powers h;
  for (int v = 0; v < 4; v++) {
    const int top = 15 - 4 * v; /* h[top] = H^(16 - 4v), for lane 0 */
    h.p[v] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set_m128i(s->h[top - 1], s->h[top])),
                                _mm256_set_m128i(s->h[top - 3], s->h[top - 2]), 1);
  }
  return h;
}

GCM_TARGET static inline __m128i fold_lanes(__m512i v) {
  return _mm_xor_si128(_mm_xor_si128(_mm512_extracti32x4_epi32(v, 0), _mm512_extracti32x4_epi32(v, 1)),
                       _mm_xor_si128(_mm512_extracti32x4_epi32(v, 2), _mm512_extracti32x4_epi32(v, 3)));
}

/* x after the sixteen blocks at p. */
GCM_TARGET static inline __m128i ghash16(__m128i x, const uint8_t *p, const h_powers *h) {
  __m512i lo = _mm512_setzero_si512(), mid = lo, hi = lo;
  for (int v = 0; v < 4; v++) {
    __m512i d = reversed4(_mm512_loadu_si512(p + 64 * v));
    if (v == 0) d = _mm512_xor_si512(d, _mm512_zextsi128_si512(x));
    lo = _mm512_xor_si512(lo, _mm512_clmulepi64_epi128(d, h->p[v], 0x00));
    hi = _mm512_xor_si512(hi, _mm512_clmulepi64_epi128(d, h->p[v], 0x11));
    mid = _mm512_ternarylogic_epi64(mid, _mm512_clmulepi64_epi128(d, h->p[v], 0x10),
                                    _mm512_clmulepi64_epi128(d, h->p[v], 0x01), 0x96);
  }
  return reduce(fold_lanes(lo), fold_lanes(mid), fold_lanes(hi));
}

/* Whole blocks into the GHASH. */
GCM_TARGET static void ghash_blocks(gcm_state *s, const uint8_t *p, size_t blocks) {
  __m128i x = s->x;
  if (blocks >= 16) {
    h_powers h = powers(s);
    for (; blocks >= 16; blocks -= 16, p += 256) x = ghash16(x, p, &h);
    OPENSSL_cleanse(&h, sizeof h); /* H's powers forge tags (spills: gcm_in_place.c wipes the stack below) */
  }
  for (; blocks > 0; blocks--, p += 16) x = multiply(_mm_xor_si128(x, reversed(_mm_loadu_si128((const __m128i *)p))), s->h[0]);
  s->x = x;
}

/* Bytes into the GHASH, a partial block kept for the next. */
GCM_TARGET static void ghash_bytes(gcm_state *s, const uint8_t *p, size_t n) {
  if (n == 0) return; /* (p may then be NULL: an empty buffer's data) */
  if (s->pending_length > 0) {
    const size_t fill = 16 - s->pending_length < n ? 16 - s->pending_length : n;
    memcpy(s->pending + s->pending_length, p, fill);
    s->pending_length += fill, p += fill, n -= fill;
    if (s->pending_length < 16) return;
    ghash_blocks(s, s->pending, 1);
    s->pending_length = 0;
  }
  ghash_blocks(s, p, n / 16);
  memcpy(s->pending, p + (n & ~(size_t)15), n & 15);
  s->pending_length = n & 15;
}

/* The end of the additional data, or of the text: a partial block is hashed zero-padded. */
GCM_TARGET static void ghash_pad(gcm_state *s) {
  if (s->pending_length == 0) return;
  memset(s->pending + s->pending_length, 0, 16 - s->pending_length);
  ghash_blocks(s, s->pending, 1);
  s->pending_length = 0;
}

/* Sixteen keystream blocks; the counter moves on by sixteen. In locals until the end: stores
 * through ks, which the compiler cannot tell from the round keys, would be made every round. */
GCM_TARGET static void keystream16(gcm_state *s, __m512i ks[4]) {
  const __m512i step = _mm512_set_epi32(0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4);
  const __m512i c0 = _mm512_add_epi32(_mm512_broadcast_i32x4(s->counter), _mm512_set_epi32(0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0));
  const __m512i c1 = _mm512_add_epi32(c0, step), c2 = _mm512_add_epi32(c1, step), c3 = _mm512_add_epi32(c2, step);
  s->counter = _mm_add_epi32(s->counter, _mm_set_epi32(0, 0, 0, 16));
  __m512i k = _mm512_broadcast_i32x4(s->round_keys[0]);
  __m512i b0 = _mm512_xor_si512(reversed4(c0), k), b1 = _mm512_xor_si512(reversed4(c1), k);
  __m512i b2 = _mm512_xor_si512(reversed4(c2), k), b3 = _mm512_xor_si512(reversed4(c3), k);
  for (int r = 1; r < 14; r++) {
    k = _mm512_broadcast_i32x4(s->round_keys[r]);
    b0 = _mm512_aesenc_epi128(b0, k), b1 = _mm512_aesenc_epi128(b1, k);
    b2 = _mm512_aesenc_epi128(b2, k), b3 = _mm512_aesenc_epi128(b3, k);
  }
  k = _mm512_broadcast_i32x4(s->round_keys[14]);
  ks[0] = _mm512_aesenclast_epi128(b0, k), ks[1] = _mm512_aesenclast_epi128(b1, k);
  ks[2] = _mm512_aesenclast_epi128(b2, k), ks[3] = _mm512_aesenclast_epi128(b3, k);
}

GCM_TARGET static __m128i keystream1(gcm_state *s) {
  const __m128i block = aes_block(s->round_keys, reversed(s->counter));
  s->counter = _mm_add_epi32(s->counter, _mm_set_epi32(0, 0, 0, 1));
  return block;
}

/* n bytes of text encrypted or decrypted where they lie, their ciphertext hashed. */
GCM_TARGET static void crypt_text(gcm_state *s, bool encrypt, uint8_t *p, size_t n) {
  while (s->ks_used < 16 && n > 0) {
    const uint8_t in = *p, out = (uint8_t)(in ^ s->ks[s->ks_used++]);
    *p++ = out, n--;
    ghash_bytes(s, encrypt ? &out : &in, 1);
  }
  if (n >= 256) {
    /* Runs of sixteen blocks, each run's GHASH beside the next run's AES (decrypting: beside its own). */
    h_powers h = powers(s);
    __m128i x = s->x;
    const uint8_t *unhashed = NULL;
    for (; n >= 256; n -= 256, p += 256) {
      __m512i ks[4];
      keystream16(s, ks);
      if (!encrypt) x = ghash16(x, p, &h);
      else if (unhashed != NULL) x = ghash16(x, unhashed, &h);
      for (int i = 0; i < 4; i++)
        _mm512_storeu_si512(p + 64 * i, _mm512_xor_si512(_mm512_loadu_si512(p + 64 * i), ks[i]));
      unhashed = p;
    }
    if (encrypt) x = ghash16(x, unhashed, &h);
    s->x = x;
    OPENSSL_cleanse(&h, sizeof h);
  }
  for (; n >= 16; n -= 16, p += 16) {
    const __m128i ks = keystream1(s);
    if (!encrypt) ghash_blocks(s, p, 1);
    _mm_storeu_si128((__m128i *)p, _mm_xor_si128(_mm_loadu_si128((const __m128i *)p), ks));
    if (encrypt) ghash_blocks(s, p, 1);
  }
  if (n > 0) {
    _mm_storeu_si128((__m128i *)s->ks, keystream1(s));
    s->ks_used = 0;
    crypt_text(s, encrypt, p, n);
  }
}

GCM_TARGET int gcm_vaes(bool encrypt, bool authenticate_only, const uint8_t key[GCM_KEY_BYTES], const uint8_t iv[GCM_IV_BYTES],
                        const uint8_t *aad, size_t aad_length, const gcm_part *parts, size_t part_count,
                        uint8_t tag[GCM_TAG_BYTES]) {
  gcm_state s;
  memset(&s, 0, sizeof s);
  expand_key(s.round_keys, key);
  s.h[0] = reversed(aes_block(s.round_keys, _mm_setzero_si128()));
  for (int i = 1; i < 16; i++) s.h[i] = multiply(s.h[i - 1], s.h[0]);
  uint8_t j0[16] = {0};
  memcpy(j0, iv, GCM_IV_BYTES);
  j0[15] = 1;
  s.counter = _mm_add_epi32(reversed(_mm_loadu_si128((const __m128i *)j0)), _mm_set_epi32(0, 0, 0, 1));
  s.ks_used = 16;

  uint64_t aad_bytes = aad_length, text_bytes = 0;
  ghash_bytes(&s, aad, aad_length);
  for (size_t i = 0; authenticate_only && i < part_count; i++) {
    ghash_bytes(&s, parts[i].data, parts[i].length);
    aad_bytes += parts[i].length;
  }
  ghash_pad(&s);
  for (size_t i = 0; !authenticate_only && i < part_count; i++) {
    crypt_text(&s, encrypt, parts[i].data, parts[i].length);
    text_bytes += parts[i].length;
  }
  ghash_pad(&s);
  uint8_t lengths[16];
  put_u64_be(lengths, aad_bytes * 8);
  put_u64_be(lengths + 8, text_bytes * 8);
  ghash_blocks(&s, lengths, 1);

  uint8_t computed[GCM_TAG_BYTES];
  _mm_storeu_si128((__m128i *)computed, _mm_xor_si128(aes_block(s.round_keys, _mm_loadu_si128((const __m128i *)j0)), reversed(s.x)));
  OPENSSL_cleanse(&s, sizeof s); /* round keys, H and its powers, keystream; spills: see gcm_in_place.c */
  if (encrypt) {
    memcpy(tag, computed, GCM_TAG_BYTES);
    return 1;
  }
  return CRYPTO_memcmp(computed, tag, GCM_TAG_BYTES) == 0;
}

#else /* not x86-64: there is no such path, and gcm_in_place never asks for it */

int gcm_vaes_supported(void) {
  return 0;
}

int gcm_vaes(bool encrypt, bool authenticate_only, const uint8_t key[GCM_KEY_BYTES], const uint8_t iv[GCM_IV_BYTES],
             const uint8_t *aad, size_t aad_length, const gcm_part *parts, size_t part_count, uint8_t tag[GCM_TAG_BYTES]) {
  (void)encrypt, (void)authenticate_only, (void)key, (void)iv, (void)aad, (void)aad_length, (void)parts, (void)part_count, (void)tag;
  abort();
}

#endif
