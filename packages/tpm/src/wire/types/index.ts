// The TPM 2.0 Part 2 types as codec values, one module per group of chapters. Import codecs from
// here and marshal/unmarshal/WireError from ../codec.js. Attribute (TPMA_*) and constant-type
// (TPM_CC, TPM_SU, ...) codecs here also carry their bit masks / values, so a module that uses
// them on the wire needs no second import from ../constants.js (whose same-named objects hold
// the same numbers).

export * from './base.js';
export * from './enums.js';
export * from './attributes.js';
export * from './algorithms.js';
export * from './signature.js';
export * from './tickets.js';
export * from './pcr.js';
export * from './public.js';
export * from './attest.js';
export * from './capability.js';
export * from './nv.js';
export * from './session.js';
export * from './context.js';
