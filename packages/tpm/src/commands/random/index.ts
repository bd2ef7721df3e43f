// Part 3 §16: random number generator.
export { GetRandom } from './get-random.js';
export { StirRandom } from './stir-random.js';
