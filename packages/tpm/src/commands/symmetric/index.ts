// Part 3 §15: symmetric primitives.
export { EncryptDecrypt } from './encrypt-decrypt.js';
export { EncryptDecrypt2 } from './encrypt-decrypt2.js';
export { HMAC } from './hmac.js';
