// The TPM's cryptographic primitives: pure functions over Buffers on node:crypto. Modules by
// mechanism — hashing, KDFs, symmetric modes, parameter encryption, RSA and ECC keys and
// operations, secret sharing, protected storage and session authorization arithmetic.

export * from './errors.js';
export * from './hash.js';
export * from './kdf.js';
export * from './symmetric.js';
export * from './parameter-encryption.js';
export * from './rsa-keygen.js';
export * from './rsa.js';
export * from './ecc.js';
export * from './secret-sharing.js';
export * from './protection.js';
export * from './session-auth.js';
