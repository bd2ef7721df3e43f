// Part 3 §17: hash, HMAC and event sequences.
export { Hash } from './hash.js';
export { HashSequenceStart } from './hash-sequence-start.js';
export { HMAC_Start } from './hmac-start.js';
export { SequenceUpdate } from './sequence-update.js';
export { SequenceComplete } from './sequence-complete.js';
export { EventSequenceComplete } from './event-sequence-complete.js';
