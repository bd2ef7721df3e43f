/* sector_crypto: the OpenSSL side of the block engine, with no Node-API in it. AES-256-XTS over
 * runs of sectors (tweak = plain64 sector number) and HMAC-SHA-256 sector tags, each key held in
 * OpenSSL contexts that are keyed once and reused for every sector. The formats are described in
 * packages/crypto/src/block/README.md. A key belongs to one thread at a time; nothing here is
 * global, so any number of threads may each hold their own keys. */
#ifndef SEALKEEP_SECTOR_CRYPTO_H
#define SEALKEEP_SECTOR_CRYPTO_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

#include "sector_tags_lanes.h"
#include "sha256_pairs.h"
#include "xts_provider.h"

#define XTS_KEY_BYTES 64
#define TAG_KEY_BYTES 32
#define TAG_BYTES 32
#define VOLUME_ID_BYTES 16

/* How a key reaches AES-XTS. Both paths key their contexts once at open (AES decryption needs its
 * own key schedule, so one context per direction) and set only the tweak per sector. */
typedef enum {
  XTS_PATH_CLOSED = 0, /* destroyed: every call is refused */
  XTS_PATH_EVP,        /* EVP_CipherInit_ex2 + EVP_CipherUpdate per sector */
  XTS_PATH_PROVIDER,   /* the provider's functions directly (xts_provider.h): less work per sector */
} xts_path;

typedef struct {
  xts_path path;
  xts_provider provider;   /* XTS_PATH_PROVIDER */
  EVP_CIPHER_CTX *encrypt; /* XTS_PATH_EVP */
  EVP_CIPHER_CTX *decrypt;
  size_t sector_size;
} xts_key;

/* How a key computes tags. Both are keyed once at open. */
typedef enum {
  TAG_PATH_CLOSED = 0, /* destroyed: every call is refused */
  TAG_PATH_EVP,        /* one sector at a time through an OpenSSL HMAC context */
  TAG_PATH_LANES,      /* sixteen at a time in AVX-512 lanes (sector_tags_lanes.h); EVP for short rests */
  TAG_PATH_PAIRS,      /* two at a time with SHA-NI (sha256_pairs.h); EVP for an odd last one */
} tag_path;

/* The paths tag_key_open may take, as bits; it takes the first the CPU has of lanes, then pairs,
 * else EVP. */
#define TAG_ALLOW_LANES 1
#define TAG_ALLOW_PAIRS 2

/* The HMAC context is re-initialised per sector without a key, which restores the precomputed
 * inner/outer pads instead of hashing the key again; the lanes path holds the same pads' states. */
typedef struct {
  tag_path path;
  EVP_MAC_CTX *mac;
  hmac_sha256_pads pads; /* TAG_PATH_LANES and TAG_PATH_PAIRS */
  uint8_t volume_id[VOLUME_ID_BYTES];
  size_t sector_size;
} tag_key;

/* Each returns 1 on success, 0 on failure with *error naming what failed (a static string). */
/* Opens the provider path when allow_provider is set, the lookup succeeds and the path gives the
 * same bytes as EVP on this key (checked at open); otherwise the EVP path. */
int xts_key_open(xts_key *key, const uint8_t material[XTS_KEY_BYTES], size_t sector_size, int allow_provider,
                 const char **error);
int xts_crypt_sectors(xts_key *key, int encrypt, uint64_t first_lba, const uint8_t *in, uint8_t *out,
                      size_t sector_count, const char **error);
void xts_key_close(xts_key *key);

/* Opens the lanes path when `allowed` has TAG_ALLOW_LANES and sha256_lanes_supported(), else the
 * pairs path when it has TAG_ALLOW_PAIRS and sha256_pairs_supported(), else the EVP path. */
int tag_key_open(tag_key *key, const uint8_t material[TAG_KEY_BYTES], const uint8_t volume_id[VOLUME_ID_BYTES],
                 size_t sector_size, int allowed, const char **error);
/* generations holds generation_count values: 1 (the same for every sector) or sector_count. */
int tag_sectors(tag_key *key, uint64_t first_lba, const uint64_t *generations, size_t generation_count,
                const uint8_t *ciphertext, size_t sector_count, uint8_t *tags_out, const char **error);
/* Tags every sector and compares each tag with its expected one in constant time: equal[i] is 1
 * when sector i's tag matches, 0 when not. */
int verify_sector_tags(tag_key *key, uint64_t first_lba, const uint64_t *generations, size_t generation_count,
                       const uint8_t *ciphertext, size_t sector_count, const uint8_t *expected, uint8_t *equal,
                       const char **error);
void tag_key_close(tag_key *key);

#endif
