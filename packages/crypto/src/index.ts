// @sealkeep/crypto — cryptography shared by the service and its clients.
export * from './jose/jws.js';
export * from './block/index.js';
export * from './byok/import-format.js';
export * from './block-session.js';
export * from './block-stream.js';
export * from './key-pairs.js';
export * from './volume-state.js';
