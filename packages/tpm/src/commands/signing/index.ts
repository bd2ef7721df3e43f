// Part 3 §20: signing and signature verification.
export { VerifySignature } from './verify-signature.js';
export { Sign } from './sign.js';
