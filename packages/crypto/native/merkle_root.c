/* merkle_root: see merkle_root.h. The levels are reduced in one working copy of the leaf hashes
 * (a node's children are read before it is written, always at a lower index than theirs). Where
 * the CPU has SHA-NI, hashes go two at a time (sha256_pairs.h), each message first assembled with
 * its prefix; otherwise, and for an odd one left, through one reused OpenSSL SHA-256 context. */
#include "merkle_root.h"
#include "sha256_pairs.h"

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

/* SHA-256(prefix || a) and SHA-256(prefix || b), `length` bytes each, to out and out + 32: read in
 * full before either is written, so out may overlap a and b. */
static void hash_pair(uint8_t prefix, const uint8_t *a, const uint8_t *b, size_t length, uint8_t out[64]) {
  uint8_t messages[2][65];
  messages[0][0] = messages[1][0] = prefix;
  memcpy(messages[0] + 1, a, length);
  memcpy(messages[1] + 1, b, length);
  const uint8_t *const pair[2] = {messages[0], messages[1]};
  sha256_pairs(pair, length + 1, (uint8_t(*)[32])out);
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
  const int pairs = sha256_pairs_supported();
  size_t leaf = 0;
  if (pairs)
    for (; leaf + 2 <= count; leaf += 2) hash_pair(LEAF, tags + leaf * 32, tags + (leaf + 1) * 32, 32, level + leaf * 32);
  for (; leaf < count; leaf++)
    if (!sha256_of(ctx, md, LEAF, tags + leaf * 32, 32, level + leaf * 32)) goto hash_failed;
  for (size_t n = count; n > 1; n = (n + 1) / 2) {
    /* node k of the next level (k = i / 2) from nodes i and i + 1 of this one */
    size_t i = 0;
    if (pairs)
      for (; i + 4 <= n; i += 4) hash_pair(NODE, level + i * 32, level + (i + 2) * 32, 64, level + (i / 2) * 32);
    for (; i + 1 < n; i += 2)
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
