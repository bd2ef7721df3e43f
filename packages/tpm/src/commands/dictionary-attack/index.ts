// Part 3 §25: dictionary attack functions.
export { DictionaryAttackLockReset } from './dictionary-attack-lock-reset.js';
export { DictionaryAttackParameters } from './dictionary-attack-parameters.js';
