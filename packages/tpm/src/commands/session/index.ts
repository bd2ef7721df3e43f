// Part 3 §11: session commands.
export { StartAuthSession } from './start-auth-session.js';
export { PolicyRestart } from './policy-restart.js';
