// Part 3 §13: duplication.
export { Duplicate } from './duplicate.js';
export { Import } from './import.js';
export { Rewrap } from './rewrap.js';
