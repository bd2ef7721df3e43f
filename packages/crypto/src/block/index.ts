// The block engine's public API: AES-256-XTS sectors, HMAC-SHA-256 sector tags, the Merkle root
// over a volume's tags and AES-256-GCM in place (block sessions' seals), on whichever engine
// selectBlockCryptoEngine() finds (README.md).
export { BlockCryptoError, type BlockCryptoErrorCode } from './block-crypto-error.js';
export {
  SectorCipher,
  SectorTagger,
  generateXtsKey,
  type BlockCryptoEngine,
  type Generations,
  type SectorCipherOptions,
  type SectorTaggerOptions,
} from './engine.js';
export {
  GENERATION_BYTES,
  INTEGRITY_KEY_BYTES,
  SECTOR_SIZES,
  TAG_BYTES,
  VOLUME_ID_BYTES,
  XTS_KEY_BYTES,
  decodeGenerations,
  encodeGenerations,
  volumeIdFromUuid,
  type SectorSize,
} from './formats.js';
export { MERKLE_LEAF_PREFIX, MERKLE_NODE_PREFIX, MerkleRootBuilder, merkleRoot } from './merkle-root.js';
export { nativeBlockCryptoEngine, nativeLoadError } from './native-engine.js';
export { nodeBlockCryptoEngine } from './node-engine.js';
export { NATIVE_ENGINE_ENV, selectBlockCryptoEngine } from './select-engine.js';
