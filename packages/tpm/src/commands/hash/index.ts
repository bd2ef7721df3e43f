// Part 3 §17: hash, HMAC and event sequences.
export { Hash } from './hash.js';
