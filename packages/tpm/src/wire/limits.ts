// Implementation limits of this TPM: every buffer maximum, list maximum and handle-range size the
// wire types check, declared once. Values follow the reference TPM (ms-tpm-20-ref TpmProfile.h,
// Part 2 §A "Implementation-dependent values") for the algorithm set we implement:
// SHA-1/256/384, RSA up to 4096, ECC NIST P-256/P-384, AES-128/256, 24 PCRs.
// Where the reference defines a maximum as sizeof(some C structure) we write the marshaled size
// of the largest member instead and say so.

// ---- digests and keys --------------------------------------------------------------------------

/** Largest digest we implement (SHA-384): sizeof(TPMU_HA). */
export const MAX_DIGEST_SIZE = 48;
/**
 * The TPM2B_DIGEST buffer: sizeof(TPMU_HA) over every hash Part 2 defines (SHA-512: 64 octets).
 * Larger than MAX_DIGEST_SIZE so a client can read the answers of TPMs that implement SHA-512
 * (libtpms computes its tickets with it); this TPM's commands still check digest sizes by algorithm.
 */
export const DIGEST_BUFFER_SIZE = 64;
/** Number of implemented hash algorithms (TPML_DIGEST_VALUES / TPML_PCR_SELECTION bound). */
export const HASH_COUNT = 3;
/** RSA-4096 modulus. */
export const MAX_RSA_KEY_BYTES = 512;
/** TPM2B_PRIVATE_KEY_RSA holds one prime: half the modulus. */
export const RSA_PRIVATE_SIZE = MAX_RSA_KEY_BYTES / 2;
/** P-384 coordinate. */
export const MAX_ECC_KEY_BYTES = 48;
/** AES-256 key. */
export const MAX_SYM_KEY_BYTES = 32;
/** AES block. */
export const MAX_SYM_BLOCK_SIZE = 16;
/** TPM2B_SENSITIVE_DATA: sealed data / keyed-hash key. */
export const MAX_SYM_DATA = 128;
/** TPM2B_LABEL: MIN(32, MAX(MAX_ECC_KEY_BYTES, MAX_DIGEST_SIZE)). */
export const LABEL_MAX_BUFFER = Math.min(32, Math.max(MAX_ECC_KEY_BYTES, MAX_DIGEST_SIZE));

// ---- general buffers ---------------------------------------------------------------------------

/** TPM2B_MAX_BUFFER (Hash, SequenceUpdate, EncryptDecrypt, HMAC ...). */
export const MAX_DIGEST_BUFFER = 1024;
/** TPM2B_MAX_NV_BUFFER: largest NV_Read / NV_Write chunk. */
export const MAX_NV_BUFFER_SIZE = 1024;
/** Largest NV index data area (TPMS_NV_PUBLIC.dataSize). */
export const MAX_NV_INDEX_SIZE = 2048;
/** TPM2B_EVENT (PCR_Event). */
export const MAX_EVENT_SIZE = 1024;
/** TPM2B_CONTEXT_SENSITIVE: encrypted body of a saved context. */
export const MAX_CONTEXT_SIZE = 5120;
/** GetCapability response data area. */
export const MAX_CAP_BUFFER = 1024;

// ---- sizes derived from structure layouts (marshaled size of the largest member) ----------------

/** sizeof(TPMT_HA): hashAlg + largest digest. Bounds TPM2B_DATA and TPM2B_NAME. */
export const TPMT_HA_SIZE = 2 + MAX_DIGEST_SIZE;
const TPM2B_DIGEST_SIZE = 2 + MAX_DIGEST_SIZE;
/** sizeof(TPMS_DERIVE): two TPM2B_LABEL. */
export const TPMS_DERIVE_SIZE = 2 * (2 + LABEL_MAX_BUFFER);
/** sizeof(TPMU_SENSITIVE_CREATE): MAX(MAX_SYM_DATA, sizeof(TPMS_DERIVE)). */
export const SENSITIVE_DATA_SIZE = Math.max(MAX_SYM_DATA, TPMS_DERIVE_SIZE);
/** sizeof(TPMU_ENCRYPTED_SECRET): an RSA-4096 block is the largest. */
export const ENCRYPTED_SECRET_SIZE = Math.max(MAX_RSA_KEY_BYTES, 2 * (2 + MAX_ECC_KEY_BYTES), TPM2B_DIGEST_SIZE);
/**
 * sizeof(TPMT_PUBLIC) for TPM2B_TEMPLATE: type, nameAlg, attributes, authPolicy, the largest
 * parameters (ECC: symmetric 6 + scheme 4 + curve 2 + kdf 4) and the largest unique (RSA modulus).
 */
export const TPMT_PUBLIC_SIZE = 2 + 2 + 4 + TPM2B_DIGEST_SIZE + 16 + (2 + MAX_RSA_KEY_BYTES);
/** sizeof(TPMT_SENSITIVE): type, authValue, seedValue, the largest sensitive (an RSA prime). */
export const TPMT_SENSITIVE_SIZE = 2 + TPM2B_DIGEST_SIZE + TPM2B_DIGEST_SIZE + (2 + RSA_PRIVATE_SIZE);
/** sizeof(_PRIVATE) for TPM2B_PRIVATE: integrityOuter, integrityInner, TPM2B_SENSITIVE. */
export const PRIVATE_SIZE = TPM2B_DIGEST_SIZE + TPM2B_DIGEST_SIZE + 2 + TPMT_SENSITIVE_SIZE;
/** sizeof(TPMS_ID_OBJECT) for TPM2B_ID_OBJECT: integrityHMAC + encIdentity. */
export const ID_OBJECT_SIZE = 2 * TPM2B_DIGEST_SIZE;
/** sizeof(TPMS_CONTEXT_DATA) for TPM2B_CONTEXT_DATA: integrity + TPM2B_CONTEXT_SENSITIVE. */
export const CONTEXT_DATA_SIZE = TPM2B_DIGEST_SIZE + 2 + MAX_CONTEXT_SIZE;
/**
 * sizeof(TPMS_ATTEST) for TPM2B_ATTEST: magic, type, qualifiedSigner, extraData, clockInfo (17),
 * firmwareVersion and the largest attested member (TPMS_NV_CERTIFY_INFO).
 */
export const ATTEST_SIZE =
  4 + 2 + (2 + TPMT_HA_SIZE) + (2 + TPMT_HA_SIZE) + 17 + 8 + ((2 + TPMT_HA_SIZE) + 2 + (2 + MAX_NV_BUFFER_SIZE));

// ---- lists -------------------------------------------------------------------------------------

/** Capability data area: MAX_CAP_BUFFER less TPM_CAP and the list count. */
export const MAX_CAP_DATA = MAX_CAP_BUFFER - 4 - 4;
export const MAX_CAP_ALGS = Math.floor(MAX_CAP_DATA / 6); // TPMS_ALG_PROPERTY
export const MAX_CAP_HANDLES = Math.floor(MAX_CAP_DATA / 4); // TPM_HANDLE
export const MAX_CAP_CC = Math.floor(MAX_CAP_DATA / 4); // TPM_CC / TPMA_CC
export const MAX_TPM_PROPERTIES = Math.floor(MAX_CAP_DATA / 8); // TPMS_TAGGED_PROPERTY
export const MAX_ECC_CURVES = Math.floor(MAX_CAP_DATA / 2); // TPM_ECC_CURVE
export const MAX_TAGGED_POLICIES = Math.floor(MAX_CAP_DATA / (4 + TPMT_HA_SIZE)); // TPMS_TAGGED_POLICY
/** TPML_ALG (IncrementalSelfTest, GetTestResult). */
export const MAX_ALG_LIST_SIZE = 64;
/** TPML_DIGEST: at most eight digests (PolicyOR branches, PCR_Read values). */
export const MAX_DIGEST_LIST = 8;

// ---- PCRs --------------------------------------------------------------------------------------

/** Number of PCRs (PC Client platform). */
export const IMPLEMENTATION_PCR = 24;
/** Octets in a PCR bitmap: both bounds of TPMS_PCR_SELECT.sizeofSelect. */
export const PCR_SELECT_MAX = Math.ceil(IMPLEMENTATION_PCR / 8);
export const PCR_SELECT_MIN = PCR_SELECT_MAX;
export const MAX_PCR_PROPERTIES = Math.floor(MAX_CAP_DATA / (4 + 1 + PCR_SELECT_MAX)); // TPMS_TAGGED_PCR_SELECT

// ---- handle ranges -----------------------------------------------------------------------------

/**
 * Transient object slots: handles TRANSIENT_FIRST .. TRANSIENT_FIRST + MAX_LOADED_OBJECTS - 1.
 * The reference TPM has 3; this one serves many clients at once, each through its own
 * resource-manager context, so it has room for all of their objects.
 */
export const MAX_LOADED_OBJECTS = 64;
/** Sessions held in TPM memory at once. */
export const MAX_LOADED_SESSIONS = 3;
/** Active (loaded or saved) sessions: bounds the HMAC and policy session handle ranges. */
export const MAX_ACTIVE_SESSIONS = 64;
