// Part 3 §22: integrity collection (PCR).
export { PCR_Extend } from './pcr-extend.js';
export { PCR_Event } from './pcr-event.js';
export { PCR_Read } from './pcr-read.js';
export { PCR_Reset } from './pcr-reset.js';
