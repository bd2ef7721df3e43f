// Part 3 §18: attestation commands.
export { Certify } from './certify.js';
export { CertifyCreation } from './certify-creation.js';
export { Quote } from './quote.js';
export { GetTime } from './get-time.js';
export { NV_Certify } from './nv-certify.js';
