// Part 3 §14: asymmetric primitives.
export { RSA_Encrypt } from './rsa-encrypt.js';
export { RSA_Decrypt } from './rsa-decrypt.js';
export { ECDH_KeyGen } from './ecdh-keygen.js';
export { ECDH_ZGen } from './ecdh-zgen.js';
