/* sealkeep_block: the Node-API face of sector_crypto. Keys live in native memory behind opaque,
 * type-tagged handles (JS externals); JS never sees the key schedules, and a handle is wiped when
 * closed or when the garbage collector finalises it. Each call processes a whole batch of sectors.
 * The addon keeps no global state, so it loads in any number of worker threads; a handle is used
 * only on the thread that opened it. Arguments are checked again here so that a wrong call throws
 * instead of crashing, though packages/crypto/src/block checks them first with better messages. */
#include <node_api.h>
#include <stdlib.h>

#include "gcm_in_place.h"
#include "gcm_vaes.h"
#include "merkle_root.h"
#include "sector_crypto.h"

/* What the functions below take and do, as native-engine.ts expects it (its NATIVE_ABI): raised
 * whenever a call changes, so an addon built from older sources is refused rather than misused. */
#define SEALKEEP_BLOCK_ABI 5

/* Arbitrary constants, unique to this addon: a handle of one kind is never taken for the other. */
static const napi_type_tag XTS_HANDLE = {0x5ea1b10c0a35f1a5ULL, 0x58545320204b4559ULL};
static const napi_type_tag TAG_HANDLE = {0x5ea1b10c0a35f1a5ULL, 0x5441472020204b45ULL};

/* Throws unless an exception is already pending. */
static bool thrown(napi_env env, const char *code, const char *message) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, code, message);
  return false;
}

static napi_value throw_error(napi_env env, const char *code, const char *message) {
  thrown(env, code, message);
  return NULL;
}

/* A failed Node-API call: TRY in a function returning napi_value, CHECK in a helper returning bool. */
#define TRY(call) \
  if ((call) != napi_ok) return throw_error(env, "ERR_SEALKEEP_NATIVE", "Node-API call failed: " #call)
#define CHECK(call) \
  if ((call) != napi_ok) return thrown(env, "ERR_SEALKEEP_NATIVE", "Node-API call failed: " #call)

static bool typed_array(napi_env env, napi_value value, napi_typedarray_type expected, const char *what,
                        void **data, size_t *length) {
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  bool is_typed_array = false;
  CHECK(napi_is_typedarray(env, value, &is_typed_array));
  if (is_typed_array) CHECK(napi_get_typedarray_info(env, value, &type, length, data, &buffer, &offset));
  if (!is_typed_array || type != expected) return thrown(env, "ERR_INVALID_ARG_TYPE", what);
  return true;
}

static bool bytes(napi_env env, napi_value value, uint8_t **data, size_t *length) {
  return typed_array(env, value, napi_uint8_array, "expected a Uint8Array", (void **)data, length);
}

static bool u64(napi_env env, napi_value value, uint64_t *out) {
  bool lossless = false;
  CHECK(napi_get_value_bigint_uint64(env, value, out, &lossless));
  return lossless || thrown(env, "ERR_OUT_OF_RANGE", "expected a bigint in 0..2^64-1");
}

static bool sector_size_arg(napi_env env, napi_value value, size_t *out) {
  uint32_t size = 0;
  CHECK(napi_get_value_uint32(env, value, &size));
  if (size != 512 && size != 4096) return thrown(env, "ERR_OUT_OF_RANGE", "sector size must be 512 or 4096");
  *out = size;
  return true;
}

static bool handle(napi_env env, napi_value value, const napi_type_tag *tag, void **out) {
  bool tagged = false;
  CHECK(napi_check_object_type_tag(env, value, tag, &tagged));
  if (!tagged) return thrown(env, "ERR_INVALID_ARG_TYPE", "not a key handle of this kind");
  CHECK(napi_get_value_external(env, value, out));
  return true;
}

/* A run of sectors at first_lba: a whole number of sectors, every LBA within u64. */
static bool sector_run(napi_env env, uint64_t first_lba, size_t length, size_t sector_size, size_t *count) {
  if (length % sector_size != 0) return thrown(env, "ERR_OUT_OF_RANGE", "length is not a multiple of the sector size");
  *count = length / sector_size;
  if (*count > 0 && *count - 1 > UINT64_MAX - first_lba) return thrown(env, "ERR_OUT_OF_RANGE", "LBA beyond 2^64-1");
  return true;
}

static void finalize_xts(napi_env env, void *data, void *hint) {
  (void)env, (void)hint;
  xts_key_close(data);
  free(data);
}

static void finalize_tag(napi_env env, void *data, void *hint) {
  (void)env, (void)hint;
  tag_key_close(data);
  free(data);
}

static napi_value wrap(napi_env env, void *key, napi_finalize finalize, const napi_type_tag *tag) {
  napi_value external;
  if (napi_create_external(env, key, finalize, NULL, &external) != napi_ok) {
    finalize(env, key, NULL);
    return throw_error(env, "ERR_SEALKEEP_NATIVE", "could not create a key handle");
  }
  TRY(napi_type_tag_object(env, external, tag));
  return external;
}

/* argv[index] as a boolean, false when absent or undefined. */
static bool optional_bool(napi_env env, size_t argc, napi_value *argv, size_t index, bool *out) {
  napi_valuetype type = napi_undefined;
  *out = false;
  if (argc > index) CHECK(napi_typeof(env, argv[index], &type));
  if (type != napi_undefined) CHECK(napi_get_value_bool(env, argv[index], out));
  return true;
}

/* argv[index] as an unsigned 32-bit integer, `fallback` when absent or undefined. */
static bool optional_uint32(napi_env env, size_t argc, napi_value *argv, size_t index, uint32_t fallback, uint32_t *out) {
  napi_valuetype type = napi_undefined;
  *out = fallback;
  if (argc > index) CHECK(napi_typeof(env, argv[index], &type));
  if (type != napi_undefined) CHECK(napi_get_value_uint32(env, argv[index], out));
  return true;
}

/* openXtsKey(key: Uint8Array(64), sectorSize: 512 | 4096, evpOnly?: boolean) -> handle.
 * evpOnly keeps the key on the EVP path (for tests that compare the two paths). */
static napi_value OpenXtsKey(napi_env env, napi_callback_info info) {
  size_t argc = 3, length = 0, sector_size = 0;
  napi_value argv[3];
  uint8_t *material = NULL;
  bool evp_only = false;
  const char *error = NULL;
  TRY(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_error(env, "ERR_MISSING_ARGS", "expected 2 arguments");
  if (!bytes(env, argv[0], &material, &length) || !sector_size_arg(env, argv[1], &sector_size) ||
      !optional_bool(env, argc, argv, 2, &evp_only))
    return NULL;
  if (length != XTS_KEY_BYTES) return throw_error(env, "ERR_OUT_OF_RANGE", "AES-256-XTS key must be 64 bytes");
  xts_key *key = malloc(sizeof *key);
  if (key == NULL) return throw_error(env, "ERR_SEALKEEP_NATIVE", "out of memory");
  if (!xts_key_open(key, material, sector_size, !evp_only, &error)) {
    free(key);
    return throw_error(env, "ERR_SEALKEEP_XTS_KEY", error);
  }
  return wrap(env, key, finalize_xts, &XTS_HANDLE);
}

/* xtsKeyPath(handle) -> 'provider' | 'evp': how the key reaches AES-XTS (see sector_crypto.h). */
static napi_value XtsKeyPath(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], path;
  xts_key *key = NULL;
  TRY(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return throw_error(env, "ERR_MISSING_ARGS", "expected a key handle");
  if (!handle(env, argv[0], &XTS_HANDLE, (void **)&key)) return NULL;
  if (key->path == XTS_PATH_CLOSED) return throw_error(env, "ERR_SEALKEEP_KEY_DESTROYED", "the XTS key was destroyed");
  TRY(napi_create_string_utf8(env, key->path == XTS_PATH_PROVIDER ? "provider" : "evp", NAPI_AUTO_LENGTH, &path));
  return path;
}

/* xtsCrypt(handle, encrypt: boolean, firstLba: bigint, input: Uint8Array, output: Uint8Array) */
static napi_value XtsCrypt(napi_env env, napi_callback_info info) {
  size_t argc = 5, in_length = 0, out_length = 0, count = 0;
  napi_value argv[5];
  xts_key *key = NULL;
  bool encrypt = true;
  uint64_t first_lba = 0;
  uint8_t *in = NULL, *out = NULL;
  const char *error = NULL;
  TRY(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) return throw_error(env, "ERR_MISSING_ARGS", "expected 5 arguments");
  if (!handle(env, argv[0], &XTS_HANDLE, (void **)&key)) return NULL;
  TRY(napi_get_value_bool(env, argv[1], &encrypt));
  if (!u64(env, argv[2], &first_lba) || !bytes(env, argv[3], &in, &in_length) || !bytes(env, argv[4], &out, &out_length))
    return NULL;
  if (key->path == XTS_PATH_CLOSED) return throw_error(env, "ERR_SEALKEEP_KEY_DESTROYED", "the XTS key was destroyed");
  if (in_length != out_length) return throw_error(env, "ERR_OUT_OF_RANGE", "output length differs from input length");
  if (in != out && in < out + out_length && out < in + in_length)
    return throw_error(env, "ERR_OUT_OF_RANGE", "input and output overlap without being the same bytes");
  if (!sector_run(env, first_lba, in_length, key->sector_size, &count)) return NULL;
  if (!xts_crypt_sectors(key, encrypt, first_lba, in, out, count, &error))
    return throw_error(env, "ERR_SEALKEEP_XTS", error);
  return NULL;
}

/* openTagKey(key: Uint8Array(32), volumeId: Uint8Array(16), sectorSize: 512 | 4096, allowed?: number)
 * -> handle. allowed: the paths the key may take, as TAG_ALLOW_* bits (every path when absent; 0
 * keeps it on EVP), for tests that compare the paths. */
static napi_value OpenTagKey(napi_env env, napi_callback_info info) {
  size_t argc = 4, key_length = 0, id_length = 0, sector_size = 0;
  napi_value argv[4];
  uint8_t *material = NULL, *volume_id = NULL;
  uint32_t allowed = 0;
  const char *error = NULL;
  TRY(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return throw_error(env, "ERR_MISSING_ARGS", "expected 3 arguments");
  if (!bytes(env, argv[0], &material, &key_length) || !bytes(env, argv[1], &volume_id, &id_length) ||
      !sector_size_arg(env, argv[2], &sector_size) ||
      !optional_uint32(env, argc, argv, 3, TAG_ALLOW_LANES | TAG_ALLOW_PAIRS, &allowed))
    return NULL;
  if (key_length != TAG_KEY_BYTES) return throw_error(env, "ERR_OUT_OF_RANGE", "integrity key must be 32 bytes");
  if (id_length != VOLUME_ID_BYTES) return throw_error(env, "ERR_OUT_OF_RANGE", "volume id must be 16 bytes");
  tag_key *key = malloc(sizeof *key);
  if (key == NULL) return throw_error(env, "ERR_SEALKEEP_NATIVE", "out of memory");
  if (!tag_key_open(key, material, volume_id, sector_size, (int)allowed, &error)) {
    free(key);
    return throw_error(env, "ERR_SEALKEEP_TAG_KEY", error);
  }
  return wrap(env, key, finalize_tag, &TAG_HANDLE);
}

/* tagKeyPath(handle) -> 'lanes' | 'pairs' | 'evp': how the key computes tags (see sector_crypto.h). */
static napi_value TagKeyPath(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], path;
  tag_key *key = NULL;
  TRY(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return throw_error(env, "ERR_MISSING_ARGS", "expected a key handle");
  if (!handle(env, argv[0], &TAG_HANDLE, (void **)&key)) return NULL;
  if (key->path == TAG_PATH_CLOSED) return throw_error(env, "ERR_SEALKEEP_KEY_DESTROYED", "the integrity key was destroyed");
  const char *name = key->path == TAG_PATH_LANES ? "lanes" : key->path == TAG_PATH_PAIRS ? "pairs" : "evp";
  TRY(napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &path));
  return path;
}

/* The arguments tagSectors and verifySectorTags share: handle, firstLba, generations
 * (BigUint64Array of 1 or count values), ciphertext, tags (count * 32 bytes). */
typedef struct {
  tag_key *key;
  uint64_t first_lba;
  uint64_t *generations;
  size_t generation_count, count;
  uint8_t *ciphertext, *tags;
} tag_batch;

static bool tag_batch_args(napi_env env, napi_callback_info info, tag_batch *b) {
  size_t argc = 5, ciphertext_length = 0, tags_length = 0;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) return thrown(env, "ERR_MISSING_ARGS", "expected 5 arguments");
  if (!handle(env, argv[0], &TAG_HANDLE, (void **)&b->key) || !u64(env, argv[1], &b->first_lba) ||
      !typed_array(env, argv[2], napi_biguint64_array, "generations must be a BigUint64Array", (void **)&b->generations,
                   &b->generation_count) ||
      !bytes(env, argv[3], &b->ciphertext, &ciphertext_length) || !bytes(env, argv[4], &b->tags, &tags_length))
    return false;
  if (b->key->path == TAG_PATH_CLOSED) return thrown(env, "ERR_SEALKEEP_KEY_DESTROYED", "the integrity key was destroyed");
  if (!sector_run(env, b->first_lba, ciphertext_length, b->key->sector_size, &b->count)) return false;
  if (tags_length != b->count * TAG_BYTES) return thrown(env, "ERR_OUT_OF_RANGE", "tags length is not 32 bytes per sector");
  if (b->generation_count != 1 && b->generation_count != b->count)
    return thrown(env, "ERR_OUT_OF_RANGE", "one generation, or one per sector");
  return true;
}

/* tagSectors(handle, firstLba, generations, ciphertext, tagsOut) */
static napi_value TagSectors(napi_env env, napi_callback_info info) {
  tag_batch b;
  const char *error = NULL;
  if (!tag_batch_args(env, info, &b)) return NULL;
  if (!tag_sectors(b.key, b.first_lba, b.generations, b.generation_count, b.ciphertext, b.count, b.tags, &error))
    return throw_error(env, "ERR_SEALKEEP_TAG", error);
  return NULL;
}

/* verifySectorTags(handle, firstLba, generations, ciphertext, tags) -> indices of failing sectors */
static napi_value VerifySectorTags(napi_env env, napi_callback_info info) {
  tag_batch b;
  napi_value failures, index;
  uint32_t failed = 0;
  const char *error = NULL;
  if (!tag_batch_args(env, info, &b)) return NULL;
  uint8_t *equal = malloc(b.count > 0 ? b.count : 1);
  if (equal == NULL) return throw_error(env, "ERR_SEALKEEP_NATIVE", "out of memory");
  if (!verify_sector_tags(b.key, b.first_lba, b.generations, b.generation_count, b.ciphertext, b.count, b.tags, equal,
                          &error)) {
    free(equal);
    return throw_error(env, "ERR_SEALKEEP_TAG", error);
  }
  bool made = napi_create_array(env, &failures) == napi_ok;
  for (size_t i = 0; made && i < b.count; i++) {
    if (equal[i]) continue;
    made = napi_create_double(env, (double)i, &index) == napi_ok && napi_set_element(env, failures, failed++, index) == napi_ok;
  }
  free(equal);
  if (!made) return throw_error(env, "ERR_SEALKEEP_NATIVE", "Node-API call failed: building the list of failing sectors");
  return failures;
}

/* destroy(handle): closes either kind of key now; the handle then refuses every call. */
static napi_value Destroy(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  bool is_xts = false, is_tag = false;
  void *key = NULL;
  TRY(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return throw_error(env, "ERR_INVALID_ARG_TYPE", "expected a key handle");
  TRY(napi_check_object_type_tag(env, argv[0], &XTS_HANDLE, &is_xts));
  TRY(napi_check_object_type_tag(env, argv[0], &TAG_HANDLE, &is_tag));
  if (!is_xts && !is_tag) return throw_error(env, "ERR_INVALID_ARG_TYPE", "not a key handle");
  TRY(napi_get_value_external(env, argv[0], &key));
  if (is_xts) xts_key_close(key);
  else tag_key_close(key);
  return NULL;
}

/* merkleRoot(tags, rootOut): the RFC 6962 root of whole 32-byte tags into rootOut (32 bytes). */
static napi_value MerkleRoot(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  uint8_t *tags = NULL, *root = NULL;
  size_t tags_length = 0, root_length = 0;
  const char *error = NULL;
  TRY(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_error(env, "ERR_INVALID_ARG_TYPE", "expected tags and a 32-byte output");
  if (!bytes(env, argv[0], &tags, &tags_length) || !bytes(env, argv[1], &root, &root_length)) return NULL;
  if (tags_length % 32 != 0) return throw_error(env, "ERR_OUT_OF_RANGE", "tags must be whole 32-byte tags");
  if (root_length != 32) return throw_error(env, "ERR_OUT_OF_RANGE", "the root output must be 32 bytes");
  if (!merkle_root(tags, tags_length / 32, root, &error)) return throw_error(env, "ERR_SEALKEEP_MERKLE", error);
  return NULL;
}

/* The parts of a gcmInPlace call: each a Uint8Array, no two overlapping (each is written where it
 * lies, so an overlap would be encrypted twice). Parts come sorted by address only by chance, so
 * overlaps are checked pairwise; the callers pass a few dozen at most. Every element is fetched
 * before any address is taken: fetching one may run a getter, which could detach a buffer. */
static bool gcm_parts(napi_env env, napi_value array, gcm_part *parts, uint32_t count) {
  napi_value *values = malloc((count > 0 ? count : 1) * sizeof *values);
  if (values == NULL) return thrown(env, "ERR_SEALKEEP_NATIVE", "out of memory");
  bool usable = true;
  for (uint32_t i = 0; usable && i < count; i++) usable = napi_get_element(env, array, i, &values[i]) == napi_ok;
  if (!usable) thrown(env, "ERR_SEALKEEP_NATIVE", "Node-API call failed: napi_get_element");
  for (uint32_t i = 0; usable && i < count; i++) {
    usable = bytes(env, values[i], &parts[i].data, &parts[i].length);
    for (uint32_t j = 0; usable && j < i; j++) {
      if (parts[i].length > 0 && parts[j].length > 0 && parts[i].data < parts[j].data + parts[j].length &&
          parts[j].data < parts[i].data + parts[i].length)
        usable = thrown(env, "ERR_OUT_OF_RANGE", "parts overlap");
    }
  }
  free(values);
  return usable;
}

/* gcmPath() -> 'vaes' | 'evp': the path gcmInPlace takes on this CPU unless held to EVP. */
static napi_value GcmPath(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value path;
  TRY(napi_create_string_utf8(env, gcm_vaes_supported() ? "vaes" : "evp", NAPI_AUTO_LENGTH, &path));
  return path;
}

/* gcmInPlace(encrypt, key: Uint8Array(32), iv: Uint8Array(12), aad: Uint8Array, parts: Uint8Array[], tag: Uint8Array(16),
 * authenticateOnly?: boolean, evpOnly?: boolean) -> boolean. AES-256-GCM over the parts in order, each where it
 * lies (no two may overlap), or with authenticateOnly GMAC: the parts as additional data after aad, untouched.
 * Encrypting writes the tag and returns true; decrypting returns whether the tag holds. evpOnly keeps
 * it on OpenSSL's path (for tests that compare the two). */
#define GCM_MAX_PARTS 65536
static napi_value GcmInPlace(napi_env env, napi_callback_info info) {
  size_t argc = 8, key_length = 0, iv_length = 0, aad_length = 0, tag_length = 0;
  napi_value argv[8], result;
  bool encrypt = true, authenticate_only = false, evp_only = false, is_array = false;
  uint8_t *key = NULL, *iv = NULL, *aad = NULL, *tag = NULL;
  uint32_t part_count = 0;
  gcm_part *parts = NULL;
  const char *error = NULL;
  TRY(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 6) return throw_error(env, "ERR_MISSING_ARGS", "expected 6 arguments");
  TRY(napi_get_value_bool(env, argv[0], &encrypt));
  if (argc >= 7) TRY(napi_get_value_bool(env, argv[6], &authenticate_only));
  if (!optional_bool(env, argc, argv, 7, &evp_only)) return NULL;
  /* The parts first (see gcm_parts): no getter runs after an address is taken. */
  TRY(napi_is_array(env, argv[4], &is_array));
  if (!is_array) return throw_error(env, "ERR_INVALID_ARG_TYPE", "parts must be an array of Uint8Arrays");
  TRY(napi_get_array_length(env, argv[4], &part_count));
  if (part_count > GCM_MAX_PARTS) return throw_error(env, "ERR_OUT_OF_RANGE", "at most 65536 parts");
  parts = calloc(part_count > 0 ? part_count : 1, sizeof *parts);
  if (parts == NULL) return throw_error(env, "ERR_SEALKEEP_NATIVE", "out of memory");
  bool usable = gcm_parts(env, argv[4], parts, part_count) && bytes(env, argv[1], &key, &key_length) &&
                bytes(env, argv[2], &iv, &iv_length) && bytes(env, argv[3], &aad, &aad_length) &&
                bytes(env, argv[5], &tag, &tag_length);
  if (usable && key_length != GCM_KEY_BYTES) usable = thrown(env, "ERR_OUT_OF_RANGE", "AES-256-GCM key must be 32 bytes");
  if (usable && iv_length != GCM_IV_BYTES) usable = thrown(env, "ERR_OUT_OF_RANGE", "AES-256-GCM IV must be 12 bytes");
  if (usable && tag_length != GCM_TAG_BYTES) usable = thrown(env, "ERR_OUT_OF_RANGE", "AES-256-GCM tag must be 16 bytes");
  int holds = usable ? gcm_in_place(encrypt, authenticate_only, !evp_only, key, iv, aad, aad_length, parts, part_count, tag, &error) : 0;
  free(parts);
  if (!usable) return NULL;
  if (error != NULL) return throw_error(env, "ERR_SEALKEEP_GCM", error);
  TRY(napi_get_boolean(env, holds == 1, &result));
  return result;
}

NAPI_MODULE_INIT() {
  static const struct { const char *name; napi_callback fn; } functions[] = {
    {"openXtsKey", OpenXtsKey}, {"xtsKeyPath", XtsKeyPath}, {"xtsCrypt", XtsCrypt},
    {"openTagKey", OpenTagKey}, {"tagKeyPath", TagKeyPath}, {"tagSectors", TagSectors},
    {"verifySectorTags", VerifySectorTags}, {"destroy", Destroy}, {"merkleRoot", MerkleRoot},
    {"gcmInPlace", GcmInPlace}, {"gcmPath", GcmPath},
  };
  for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++) {
    napi_value fn;
    TRY(napi_create_function(env, functions[i].name, NAPI_AUTO_LENGTH, functions[i].fn, NULL, &fn));
    TRY(napi_set_named_property(env, exports, functions[i].name, fn));
  }
  napi_value abi;
  TRY(napi_create_uint32(env, SEALKEEP_BLOCK_ABI, &abi));
  TRY(napi_set_named_property(env, exports, "abi", abi));
  return exports;
}
