// @sealkeep/hypervisor-adapter — serves tenants' volumes to hypervisors as NBD exports: every
// sector encrypted (AES-256-XTS) and tagged (HMAC-SHA-256) through a SectorCrypto seam, every
// read verified, every change journaled before it reaches the backing files (README.md).
export { ExportRegistry } from './nbd/export-registry.js';
export { NbdServer, type NbdServerOptions } from './nbd/nbd-server.js';
export { MAX_REQUEST_BYTES, blockSizeConstraints, transmissionFlags } from './nbd/export-policy.js';
export * from './nbd/nbd-constants.js';
export { SectorIntegrityError, VolumeError, type BlockVolume, type VolumeErrorCode, type WriteOptions } from './volume/block-volume.js';
export { EncryptedFileVolume, DEFAULT_LIMITS, type VolumeLimits } from './volume/encrypted-file-volume.js';
export { openEncryptedFileVolume, type OpenVolumeOptions, type VolumeIdentity } from './volume/open-volume.js';
export {
  LocalSectorCrypto,
  generateVolumeKeys,
  readVolumeKeyFile,
  writeVolumeKeyFile,
  type LocalSectorCryptoOptions,
  type SectorCrypto,
  type VolumeKeys,
} from './volume/sector-crypto.js';
export { JournalDamaged } from './volume/sector-journal.js';
export { createJsonLogger, silentLogger, type LogLevel, type Logger } from './logger.js';
export { BufferPool, bufferPool } from './buffer-pool.js';
