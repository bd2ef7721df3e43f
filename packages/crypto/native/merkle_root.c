/* merkle_root: see merkle_root.h. One SHA-256 context is reused for every hash; the levels are
 * reduced in one working copy of the leaf hashes (a node's children are read before it is
 * written, always at a lower index than theirs). */
#include "merkle_root.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t LEAF = 0x00, NODE = 0x01;

static int sha256_of(EVP_MD_CTX *ctx, const EVP_MD *md, uint8_t prefix, const uint8_t *data, size_t length,
                     uint8_t out[32]) {
  unsigned int written = 0;
  return EVP_DigestInit_ex2(ctx, md, NULL) && EVP_DigestUpdate(ctx, &prefix, 1) &&
         EVP_DigestUpdate(ctx, data, length) && EVP_DigestFinal_ex(ctx, out, &written) && written == 32;
}

int merkle_root(const uint8_t *tags, size_t count, uint8_t root[32], const char **error) {
  int ok = 0;
  EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  uint8_t *level = count > 0 ? malloc(count * 32) : NULL;
  if (!md || !ctx || (count > 0 && !level)) {
    *error = "out of memory, or no SHA-256 in OpenSSL";
    goto done;
  }
  if (count == 0) {
    unsigned int written = 0;
    ok = EVP_DigestInit_ex2(ctx, md, NULL) && EVP_DigestFinal_ex(ctx, root, &written) && written == 32;
    goto done;
  }
  for (size_t i = 0; i < count; i++)
    if (!sha256_of(ctx, md, LEAF, tags + i * 32, 32, level + i * 32)) goto hash_failed;
  for (size_t n = count; n > 1; n = (n + 1) / 2) {
    for (size_t i = 0; i + 1 < n; i += 2)
      if (!sha256_of(ctx, md, NODE, level + i * 32, 64, level + (i / 2) * 32)) goto hash_failed;
    if (n % 2) memmove(level + (n / 2) * 32, level + (n - 1) * 32, 32);
  }
  memcpy(root, level, 32);
  ok = 1;
  goto done;
hash_failed:
  *error = "SHA-256 failed";
done:
  free(level);
  EVP_MD_CTX_free(ctx);
  EVP_MD_free(md);
  if (!ok && !*error) *error = "SHA-256 failed";
  return ok;
}
