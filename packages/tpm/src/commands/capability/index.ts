// Part 3 §30: capability commands.
export { GetCapability } from './get-capability.js';
export { TestParms } from './test-parms.js';
