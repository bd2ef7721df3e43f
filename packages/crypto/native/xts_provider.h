/* xts_provider: AES-256-XTS sectors through the cipher functions of the provider that EVP fetched,
 * called directly. Per sector, EVP_CipherInit_ex2 does generic work before it reaches the provider
 * (in OpenSSL 3.0 it asks the provider for the IV length through OSSL_PARAM lookups on every call),
 * which costs about a fifth of the time of a 512-byte sector; here a sector is the provider's own
 * encrypt_init with only the IV, then its cipher function: what EVP itself ends up calling.
 * Only public API is used: EVP_CIPHER_get0_provider, OSSL_PROVIDER_query_operation and the
 * provider's dispatch table (provider-cipher(7)). sector_crypto.c opens this path when it can and
 * checks it against EVP on the key before use, falling back to EVP otherwise. Nothing is global. */
#ifndef SEALKEEP_XTS_PROVIDER_H
#define SEALKEEP_XTS_PROVIDER_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/core_dispatch.h>
#include <openssl/evp.h>

typedef struct {
  /* A reference on the fetched algorithm, which keeps its provider (and these functions) loaded. */
  EVP_CIPHER *algorithm;
  OSSL_FUNC_cipher_encrypt_init_fn *encrypt_init;
  OSSL_FUNC_cipher_decrypt_init_fn *decrypt_init;
  OSSL_FUNC_cipher_cipher_fn *cipher;
  OSSL_FUNC_cipher_freectx_fn *freectx;
  /* The provider's own contexts, one per direction, keyed once at open. */
  void *encrypt;
  void *decrypt;
} xts_provider;

/* Finds algorithm's implementation in its provider and keys one context per direction with the
 * 64-byte key. 1 on success; 0 when any step fails, with nothing held (p zeroed). Takes its own
 * reference on algorithm. */
int xts_provider_open(xts_provider *p, EVP_CIPHER *algorithm, const uint8_t *key, size_t key_length);
/* Encrypts or decrypts one data unit of size bytes (at least 16) with the 16-byte tweak iv.
 * 1 on success, 0 on a provider failure. */
int xts_provider_unit(xts_provider *p, int encrypt, const uint8_t iv[16], const uint8_t *in, uint8_t *out, size_t size);
/* Frees both contexts (the provider wipes their key schedules) and the algorithm reference. */
void xts_provider_close(xts_provider *p);

#endif
