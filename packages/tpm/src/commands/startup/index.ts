// Part 3 §9–10: start-up and testing.
export { Startup } from './startup.js';
export { Shutdown } from './shutdown.js';
export { SelfTest, IncrementalSelfTest, GetTestResult } from './self-test.js';
