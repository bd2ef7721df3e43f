// Part 3 §29: clocks and timers.
export { ReadClock } from './read-clock.js';
export { ClockSet } from './clock-set.js';
export { ClockRateAdjust } from './clock-rate-adjust.js';
