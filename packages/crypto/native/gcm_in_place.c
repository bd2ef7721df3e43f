/* gcm_in_place: AES-256-GCM (or GMAC) over a list of buffers in place, on the OpenSSL Node links
 * (see gcm_in_place.h), or on gcm_vaes.h's path where the CPU has it. OpenSSL's GCM takes output
 * == input, and additional data in several updates; updates are split below INT_MAX. */
#include "gcm_in_place.h"
#include "gcm_vaes.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

static int fail(const char **error, const char *what) {
  *error = what;
  ERR_clear_error(); /* leave Node's OpenSSL error queue as we found it */
  return 0;
}

/* What the compiler spilled of gcm_vaes's round keys and powers of H, in the frames below this
 * one, is overwritten by a frame of the same depth. Not inlined, so that it takes that place. */
static __attribute__((noinline)) void wipe_stack_below(void) {
  uint8_t area[8192];
  OPENSSL_cleanse(area, sizeof area);
}

static int update(EVP_CIPHER_CTX *ctx, bool encrypt, uint8_t *out, const uint8_t *in, size_t length) {
  while (length > 0) {
    int step = length > (size_t)(INT_MAX / 2) ? INT_MAX / 2 : (int)length, written = 0;
    int ok = encrypt ? EVP_EncryptUpdate(ctx, out, &written, in, step) : EVP_DecryptUpdate(ctx, out, &written, in, step);
    if (!ok || (out != NULL && written != step)) return 0;
    if (out != NULL) out += step;
    in += step;
    length -= (size_t)step;
  }
  return 1;
}

int gcm_in_place(bool encrypt, bool authenticate_only, bool allow_vaes, const uint8_t key[GCM_KEY_BYTES],
                 const uint8_t iv[GCM_IV_BYTES], const uint8_t *aad, size_t aad_length, const gcm_part *parts,
                 size_t part_count, uint8_t tag[GCM_TAG_BYTES], const char **error) {
  *error = NULL;
  uint64_t text = 0;
  for (size_t i = 0; i < part_count; i++) text += parts[i].length;
  /* SP 800-38D's limits: past them the 32-bit counter returns to J0 and the keystream repeats. */
  if (authenticate_only ? aad_length + text > GCM_MAX_AAD_BYTES : (text > GCM_MAX_TEXT_BYTES || aad_length > GCM_MAX_AAD_BYTES))
    return fail(error, "AES-256-GCM takes at most 2^36 - 32 bytes of text and 2^61 - 1 of additional data");
  if (allow_vaes && gcm_vaes_supported()) {
    const int result = gcm_vaes(encrypt, authenticate_only, key, iv, aad, aad_length, parts, part_count, tag);
    wipe_stack_below();
    return result;
  }
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (ctx == NULL) return fail(error, "could not allocate a GCM context");
  int ok = encrypt ? EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, iv)
                   : EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, iv);
  if (ok && aad_length > 0) ok = update(ctx, encrypt, NULL, aad, aad_length);
  /* Additional data goes in with no output buffer, and all of it before any plaintext. */
  for (size_t i = 0; ok && i < part_count; i++)
    ok = update(ctx, encrypt, authenticate_only ? NULL : parts[i].data, parts[i].data, parts[i].length);
  int result = 0;
  uint8_t last[16];
  int written = 0;
  if (!ok) {
    fail(error, "AES-256-GCM failed");
  } else if (encrypt) {
    result = EVP_EncryptFinal_ex(ctx, last, &written) && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG_BYTES, tag);
    if (!result) fail(error, "AES-256-GCM failed to finish");
  } else if (!EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, GCM_TAG_BYTES, tag)) {
    fail(error, "AES-256-GCM refused the tag");
  } else {
    result = EVP_DecryptFinal_ex(ctx, last, &written) > 0;
    ERR_clear_error(); /* a tag that does not hold is an answer, not an error */
  }
  EVP_CIPHER_CTX_free(ctx);
  return result;
}
