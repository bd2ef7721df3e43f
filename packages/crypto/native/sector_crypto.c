/* sector_crypto: AES-256-XTS sectors and HMAC-SHA-256 sector tags on the OpenSSL that Node
 * itself links (see sector_crypto.h). Layouts:
 *   XTS IV  = sector number, u64 little-endian, then 8 zero bytes (dm-crypt plain64)
 *   tag     = HMAC-SHA-256(key, volume id[16] || LBA u64 BE || generation u64 BE || ciphertext)
 * Tags go sixteen sectors at a time through sector_tags_lanes where the CPU has AVX-512, else two
 * at a time through sha256_pairs where it has SHA-NI. */
#include "sector_crypto.h"
#include "byte_order.h"

#include <endian.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/params.h>

static int fail(const char **error, const char *what) {
  *error = what;
  ERR_clear_error(); /* leave Node's OpenSSL error queue as we found it */
  return 0;
}

/* The plain64 tweak as one 16-byte vector, so that it is written with a single 16-byte store.
 * OpenSSL copies the IV with a 16-byte load; a load that spans several smaller stores still in
 * flight cannot take its data from them, and the CPU then waits for every earlier instruction (the
 * previous sector's AES rounds) to retire before it can start this sector's tweak. Written byte by
 * byte, that wait cost a fifth of the speed at 512-byte sectors. */
typedef uint64_t xts_tweak __attribute__((vector_size(16)));

static xts_tweak plain64_tweak(uint64_t lba) {
  return (xts_tweak){htole64(lba), 0};
}

static EVP_CIPHER_CTX *keyed_xts_context(EVP_CIPHER *cipher, const uint8_t *material, int encrypt) {
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (ctx == NULL) return NULL;
  if (!EVP_CipherInit_ex2(ctx, cipher, material, NULL, encrypt, NULL)) {
    EVP_CIPHER_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

/* One data unit through EVP: set the tweak on the keyed context, then the whole unit in one update. */
static int evp_unit(EVP_CIPHER_CTX *ctx, const uint8_t iv[16], const uint8_t *in, uint8_t *out, size_t size) {
  int written = 0;
  return EVP_CipherInit_ex2(ctx, NULL, NULL, iv, -1, NULL) && EVP_CipherUpdate(ctx, out, &written, in, (int)size) &&
         (size_t)written == size;
}

/* Whether the provider path gives, on this key, the bytes that EVP gives (evp_encrypt: keyed for
 * encryption), and decrypts them back: two 64-byte units at two tweaks, the second showing that a
 * tweak set after the first unit replaces it and the key stays. Run once per key, before use. */
static int provider_agrees_with_evp(xts_provider *provider, EVP_CIPHER_CTX *evp_encrypt) {
  static const uint64_t lbas[2] = {1, 0x0123456789abcdefULL};
  uint8_t plain[64], by_evp[64], by_provider[64], back[64];
  for (size_t i = 0; i < sizeof plain; i++) plain[i] = (uint8_t)(i * 7 + 1);
  for (int t = 0; t < 2; t++) {
    const xts_tweak tweak = plain64_tweak(lbas[t]);
    const uint8_t *iv = (const uint8_t *)&tweak;
    if (!evp_unit(evp_encrypt, iv, plain, by_evp, sizeof plain) ||
        !xts_provider_unit(provider, 1, iv, plain, by_provider, sizeof plain) ||
        !xts_provider_unit(provider, 0, iv, by_provider, back, sizeof plain) ||
        memcmp(by_evp, by_provider, sizeof plain) != 0 || memcmp(back, plain, sizeof plain) != 0)
      return 0;
  }
  return 1;
}

int xts_key_open(xts_key *key, const uint8_t material[XTS_KEY_BYTES], size_t sector_size, int allow_provider,
                 const char **error) {
  memset(key, 0, sizeof *key);
  /* OpenSSL refuses equal halves only when encrypting; refuse them for both directions. */
  if (CRYPTO_memcmp(material, material + XTS_KEY_BYTES / 2, XTS_KEY_BYTES / 2) == 0)
    return fail(error, "AES-256-XTS key halves are equal (key1 == key2)");
  EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, "AES-256-XTS", NULL);
  if (cipher == NULL) return fail(error, "OpenSSL has no AES-256-XTS");
  key->sector_size = sector_size;
  key->encrypt = keyed_xts_context(cipher, material, 1);
  if (key->encrypt != NULL && allow_provider) {
    if (xts_provider_open(&key->provider, cipher, material, XTS_KEY_BYTES) &&
        provider_agrees_with_evp(&key->provider, key->encrypt)) {
      key->path = XTS_PATH_PROVIDER;
      EVP_CIPHER_CTX_free(key->encrypt); /* used only for the check */
      key->encrypt = NULL;
    } else {
      xts_provider_close(&key->provider); /* the EVP path then */
    }
    ERR_clear_error();
  }
  if (key->path != XTS_PATH_PROVIDER) {
    key->decrypt = keyed_xts_context(cipher, material, 0);
    key->path = XTS_PATH_EVP;
  }
  EVP_CIPHER_free(cipher); /* each context holds its own reference */
  if (key->path == XTS_PATH_EVP && (key->encrypt == NULL || key->decrypt == NULL)) {
    xts_key_close(key);
    return fail(error, "OpenSSL refused the AES-256-XTS key");
  }
  return 1;
}

int xts_crypt_sectors(xts_key *key, int encrypt, uint64_t first_lba, const uint8_t *in, uint8_t *out,
                      size_t sector_count, const char **error) {
  const size_t size = key->sector_size;
  xts_tweak tweak;
  const uint8_t *iv = (const uint8_t *)&tweak;
  if (key->path == XTS_PATH_PROVIDER) {
    for (size_t i = 0; i < sector_count; i++) {
      tweak = plain64_tweak(first_lba + i);
      if (!xts_provider_unit(&key->provider, encrypt, iv, in + i * size, out + i * size, size))
        return fail(error, "AES-256-XTS failed on a sector");
    }
    return 1;
  }
  EVP_CIPHER_CTX *ctx = encrypt ? key->encrypt : key->decrypt;
  for (size_t i = 0; i < sector_count; i++) {
    tweak = plain64_tweak(first_lba + i);
    if (!evp_unit(ctx, iv, in + i * size, out + i * size, size)) return fail(error, "AES-256-XTS failed on a sector");
  }
  return 1;
}

void xts_key_close(xts_key *key) {
  /* Freeing a context wipes its key schedule (OPENSSL_clear_free in the provider). */
  xts_provider_close(&key->provider); /* a no-op when zeroed: the EVP path, or closed already */
  EVP_CIPHER_CTX_free(key->encrypt);
  EVP_CIPHER_CTX_free(key->decrypt);
  OPENSSL_cleanse(key, sizeof *key);
}

int tag_key_open(tag_key *key, const uint8_t material[TAG_KEY_BYTES], const uint8_t volume_id[VOLUME_ID_BYTES],
                 size_t sector_size, int allowed, const char **error) {
  memset(key, 0, sizeof *key);
  EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  if (hmac == NULL) return fail(error, "OpenSSL has no HMAC");
  key->mac = EVP_MAC_CTX_new(hmac);
  EVP_MAC_free(hmac); /* the context holds its own reference */
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
    OSSL_PARAM_construct_end(),
  };
  if (key->mac == NULL || !EVP_MAC_init(key->mac, material, TAG_KEY_BYTES, params)) {
    tag_key_close(key);
    return fail(error, "OpenSSL refused the HMAC-SHA-256 key");
  }
  key->path = TAG_PATH_EVP;
  if ((allowed & TAG_ALLOW_LANES) && sha256_lanes_supported()) {
    hmac_sha256_lanes_pads(material, &key->pads);
    key->path = TAG_PATH_LANES;
  } else if ((allowed & TAG_ALLOW_PAIRS) && sha256_pairs_supported()) {
    hmac_sha256_pairs_pads(material, &key->pads);
    key->path = TAG_PATH_PAIRS;
  }
  memcpy(key->volume_id, volume_id, VOLUME_ID_BYTES);
  key->sector_size = sector_size;
  return 1;
}

static int tag_one(tag_key *key, uint64_t lba, uint64_t generation, const uint8_t *ciphertext, uint8_t tag[TAG_BYTES]) {
  uint8_t header[VOLUME_ID_BYTES + 16];
  size_t length = 0;
  memcpy(header, key->volume_id, VOLUME_ID_BYTES);
  put_u64_be(header + VOLUME_ID_BYTES, lba);
  put_u64_be(header + VOLUME_ID_BYTES + 8, generation);
  return EVP_MAC_init(key->mac, NULL, 0, NULL) && EVP_MAC_update(key->mac, header, sizeof header) &&
         EVP_MAC_update(key->mac, ciphertext, key->sector_size) && EVP_MAC_final(key->mac, tag, &length, TAG_BYTES) &&
         length == TAG_BYTES;
}

/* Sector i's generation: one for the whole batch, or one per sector. */
static inline uint64_t generation_at(const uint64_t *generations, size_t generation_count, size_t i) {
  return generations[generation_count == 1 ? 0 : i];
}

/* A run of lanes costs the same however many are filled: below this many sectors, one at a time
 * through EVP is cheaper (the lanes run at about twice EVP's rate). */
#define LANES_WORTH_FILLING 8

/* Sectors first..first+n-1 of a batch (n <= TAG_LANES) in one run of lanes; unfilled lanes repeat the last. */
static void tag_in_lanes(tag_key *key, uint64_t first_lba, const uint64_t *generations, size_t generation_count,
                         const uint8_t *ciphertext, size_t first, size_t n, uint8_t *tags_out) {
  uint64_t lbas[TAG_LANES], lane_generations[TAG_LANES];
  const uint8_t *sectors[TAG_LANES];
  uint8_t tags[TAG_LANES][TAG_BYTES];
  for (size_t j = 0; j < TAG_LANES; j++) {
    const size_t i = first + (j < n ? j : n - 1);
    lbas[j] = first_lba + i;
    lane_generations[j] = generation_at(generations, generation_count, i);
    sectors[j] = ciphertext + i * key->sector_size;
  }
  tag_lanes(&key->pads, key->volume_id, lbas, lane_generations, sectors, key->sector_size, tags);
  memcpy(tags_out + first * TAG_BYTES, tags, n * TAG_BYTES);
}

/* Sectors first and first+1 of a batch with SHA-NI, side by side. */
static void tag_in_pair(tag_key *key, uint64_t first_lba, const uint64_t *generations, size_t generation_count,
                        const uint8_t *ciphertext, size_t first, uint8_t *tags_out) {
  const uint64_t lbas[2] = {first_lba + first, first_lba + first + 1};
  const uint64_t pair_generations[2] = {generation_at(generations, generation_count, first),
                                        generation_at(generations, generation_count, first + 1)};
  const uint8_t *const sectors[2] = {ciphertext + first * key->sector_size, ciphertext + (first + 1) * key->sector_size};
  tag_pairs(&key->pads, key->volume_id, lbas, pair_generations, sectors, key->sector_size,
            (uint8_t(*)[TAG_BYTES])(tags_out + first * TAG_BYTES));
}

int tag_sectors(tag_key *key, uint64_t first_lba, const uint64_t *generations, size_t generation_count,
                const uint8_t *ciphertext, size_t sector_count, uint8_t *tags_out, const char **error) {
  size_t i = 0;
  if (key->path == TAG_PATH_LANES)
    for (; sector_count - i >= LANES_WORTH_FILLING; i += TAG_LANES) {
      const size_t n = sector_count - i < TAG_LANES ? sector_count - i : TAG_LANES;
      tag_in_lanes(key, first_lba, generations, generation_count, ciphertext, i, n, tags_out);
      if (n < TAG_LANES) return 1;
    }
  if (key->path == TAG_PATH_PAIRS)
    for (; sector_count - i >= 2; i += 2) tag_in_pair(key, first_lba, generations, generation_count, ciphertext, i, tags_out);
  for (; i < sector_count; i++) {
    if (!tag_one(key, first_lba + i, generation_at(generations, generation_count, i), ciphertext + i * key->sector_size, tags_out + i * TAG_BYTES))
      return fail(error, "HMAC-SHA-256 failed on a sector");
  }
  return 1;
}

int verify_sector_tags(tag_key *key, uint64_t first_lba, const uint64_t *generations, size_t generation_count,
                       const uint8_t *ciphertext, size_t sector_count, const uint8_t *expected, uint8_t *equal,
                       const char **error) {
  enum { CHUNK = 4 * TAG_LANES };
  uint8_t tags[CHUNK * TAG_BYTES];
  for (size_t first = 0; first < sector_count; first += CHUNK) {
    const size_t n = sector_count - first < CHUNK ? sector_count - first : CHUNK;
    const int one_generation = generation_count == 1;
    if (!tag_sectors(key, first_lba + first, one_generation ? generations : generations + first, one_generation ? 1 : n,
                     ciphertext + first * key->sector_size, n, tags, error))
      return 0;
    for (size_t i = 0; i < n; i++)
      equal[first + i] = CRYPTO_memcmp(tags + i * TAG_BYTES, expected + (first + i) * TAG_BYTES, TAG_BYTES) == 0;
  }
  return 1;
}

void tag_key_close(tag_key *key) {
  EVP_MAC_CTX_free(key->mac); /* wipes the HMAC pads */
  OPENSSL_cleanse(key, sizeof *key);
}
