/* xts_provider: see xts_provider.h. Owns the lookup of AES-256-XTS in the provider's dispatch
 * table and the two provider contexts; knows nothing of sectors or of Node. */
#include "xts_provider.h"

#include <string.h>
#include <strings.h>
#include <openssl/core.h>
#include <openssl/crypto.h>
#include <openssl/provider.h>

/* Whether the colon-separated name list ("AES-256-XTS:1.3.111.2.1619.0.1.2") holds name. */
static int has_name(const char *names, const char *name) {
  const size_t length = strlen(name);
  for (const char *p = names; p != NULL && *p != '\0';) {
    const char *end = strchr(p, ':');
    const size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n == length && strncasecmp(p, name, n) == 0) return 1;
    p = end ? end + 1 : NULL;
  }
  return 0;
}

/* Copies, from the dispatch table of the provider's AES-256-XTS, the functions this path calls
 * (and newctx, used once by xts_provider_open). 1 when every one of them is there. */
static int find_functions(xts_provider *p, OSSL_FUNC_cipher_newctx_fn **newctx) {
  const OSSL_PROVIDER *provider = EVP_CIPHER_get0_provider(p->algorithm);
  if (provider == NULL) return 0;
  int no_store = 0;
  const OSSL_ALGORITHM *algorithms = OSSL_PROVIDER_query_operation(provider, OSSL_OP_CIPHER, &no_store);
  const OSSL_DISPATCH *dispatch = NULL;
  for (const OSSL_ALGORITHM *a = algorithms; a != NULL && a->algorithm_names != NULL; a++) {
    if (has_name(a->algorithm_names, "AES-256-XTS")) {
      dispatch = a->implementation;
      break;
    }
  }
  for (const OSSL_DISPATCH *d = dispatch; d != NULL && d->function_id != 0; d++) {
    switch (d->function_id) {
      case OSSL_FUNC_CIPHER_NEWCTX: *newctx = OSSL_FUNC_cipher_newctx(d); break;
      case OSSL_FUNC_CIPHER_ENCRYPT_INIT: p->encrypt_init = OSSL_FUNC_cipher_encrypt_init(d); break;
      case OSSL_FUNC_CIPHER_DECRYPT_INIT: p->decrypt_init = OSSL_FUNC_cipher_decrypt_init(d); break;
      case OSSL_FUNC_CIPHER_CIPHER: p->cipher = OSSL_FUNC_cipher_cipher(d); break;
      case OSSL_FUNC_CIPHER_FREECTX: p->freectx = OSSL_FUNC_cipher_freectx(d); break;
      default: break;
    }
  }
  /* The function pointers are copied: the table itself is not used after this. */
  if (algorithms != NULL) OSSL_PROVIDER_unquery_operation(provider, OSSL_OP_CIPHER, algorithms);
  return *newctx != NULL && p->encrypt_init != NULL && p->decrypt_init != NULL && p->cipher != NULL &&
         p->freectx != NULL;
}

int xts_provider_open(xts_provider *p, EVP_CIPHER *algorithm, const uint8_t *key, size_t key_length) {
  OSSL_FUNC_cipher_newctx_fn *newctx = NULL;
  void *provider_context = NULL;
  memset(p, 0, sizeof *p);
  if (!EVP_CIPHER_up_ref(algorithm)) return 0;
  p->algorithm = algorithm;
  if (!find_functions(p, &newctx)) goto fail;
  provider_context = OSSL_PROVIDER_get0_provider_ctx(EVP_CIPHER_get0_provider(algorithm));
  p->encrypt = newctx(provider_context);
  p->decrypt = newctx(provider_context);
  if (p->encrypt == NULL || p->decrypt == NULL || !p->encrypt_init(p->encrypt, key, key_length, NULL, 0, NULL) ||
      !p->decrypt_init(p->decrypt, key, key_length, NULL, 0, NULL))
    goto fail;
  return 1;
fail:
  xts_provider_close(p);
  return 0;
}

int xts_provider_unit(xts_provider *p, int encrypt, const uint8_t iv[16], const uint8_t *in, uint8_t *out,
                      size_t size) {
  size_t written = 0;
  /* A NULL key keeps the key schedule and sets only the tweak, as EVP's own re-init does. */
  int ok = encrypt ? p->encrypt_init(p->encrypt, NULL, 0, iv, 16, NULL)
                   : p->decrypt_init(p->decrypt, NULL, 0, iv, 16, NULL);
  return ok && p->cipher(encrypt ? p->encrypt : p->decrypt, out, &written, size, in, size) && written == size;
}

void xts_provider_close(xts_provider *p) {
  if (p->freectx != NULL) {
    if (p->encrypt != NULL) p->freectx(p->encrypt);
    if (p->decrypt != NULL) p->freectx(p->decrypt);
  }
  EVP_CIPHER_free(p->algorithm);
  OPENSSL_cleanse(p, sizeof *p);
}
