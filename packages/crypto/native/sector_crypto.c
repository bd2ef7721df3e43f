/* sector_crypto: AES-256-XTS sectors and HMAC-SHA-256 sector tags on the OpenSSL that Node
 * itself links (see sector_crypto.h). Layouts:
 *   XTS IV  = sector number, u64 little-endian, then 8 zero bytes (dm-crypt plain64)
 *   tag     = HMAC-SHA-256(key, volume id[16] || LBA u64 BE || generation u64 BE || ciphertext) */
#include "sector_crypto.h"

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

static void put_u64_le(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64_be(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[7 - i] = (uint8_t)(v >> (8 * i));
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

int xts_key_open(xts_key *key, const uint8_t material[XTS_KEY_BYTES], size_t sector_size, const char **error) {
  memset(key, 0, sizeof *key);
  /* OpenSSL refuses equal halves only when encrypting; refuse them for both directions. */
  if (CRYPTO_memcmp(material, material + XTS_KEY_BYTES / 2, XTS_KEY_BYTES / 2) == 0)
    return fail(error, "AES-256-XTS key halves are equal (key1 == key2)");
  EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, "AES-256-XTS", NULL);
  if (cipher == NULL) return fail(error, "OpenSSL has no AES-256-XTS");
  key->encrypt = keyed_xts_context(cipher, material, 1);
  key->decrypt = keyed_xts_context(cipher, material, 0);
  EVP_CIPHER_free(cipher); /* each context holds its own reference */
  if (key->encrypt == NULL || key->decrypt == NULL) {
    xts_key_close(key);
    return fail(error, "OpenSSL refused the AES-256-XTS key");
  }
  key->sector_size = sector_size;
  return 1;
}

int xts_crypt_sectors(xts_key *key, int encrypt, uint64_t first_lba, const uint8_t *in, uint8_t *out,
                      size_t sector_count, const char **error) {
  EVP_CIPHER_CTX *ctx = encrypt ? key->encrypt : key->decrypt;
  const size_t size = key->sector_size;
  uint8_t iv[16] = {0};
  for (size_t i = 0; i < sector_count; i++) {
    int written = 0;
    put_u64_le(iv, first_lba + i);
    if (!EVP_CipherInit_ex2(ctx, NULL, NULL, iv, -1, NULL) ||
        !EVP_CipherUpdate(ctx, out + i * size, &written, in + i * size, (int)size) || (size_t)written != size)
      return fail(error, "AES-256-XTS failed on a sector");
  }
  return 1;
}

void xts_key_close(xts_key *key) {
  /* Freeing a cipher context wipes its key schedule (OPENSSL_clear_free in the provider). */
  EVP_CIPHER_CTX_free(key->encrypt);
  EVP_CIPHER_CTX_free(key->decrypt);
  OPENSSL_cleanse(key, sizeof *key);
}

int tag_key_open(tag_key *key, const uint8_t material[TAG_KEY_BYTES], const uint8_t volume_id[VOLUME_ID_BYTES],
                 size_t sector_size, const char **error) {
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

int tag_sectors(tag_key *key, uint64_t first_lba, const uint64_t *generations, size_t generation_count,
                const uint8_t *ciphertext, size_t sector_count, uint8_t *tags_out, const char **error) {
  for (size_t i = 0; i < sector_count; i++) {
    uint64_t generation = generations[generation_count == 1 ? 0 : i];
    if (!tag_one(key, first_lba + i, generation, ciphertext + i * key->sector_size, tags_out + i * TAG_BYTES))
      return fail(error, "HMAC-SHA-256 failed on a sector");
  }
  return 1;
}

int verify_sector_tag(tag_key *key, uint64_t lba, uint64_t generation, const uint8_t *ciphertext,
                      const uint8_t expected[TAG_BYTES], const char **error) {
  uint8_t tag[TAG_BYTES];
  if (!tag_one(key, lba, generation, ciphertext, tag)) {
    fail(error, "HMAC-SHA-256 failed on a sector");
    return -1;
  }
  return CRYPTO_memcmp(tag, expected, TAG_BYTES) == 0;
}

void tag_key_close(tag_key *key) {
  EVP_MAC_CTX_free(key->mac); /* wipes the HMAC pads */
  OPENSSL_cleanse(key, sizeof *key);
}
