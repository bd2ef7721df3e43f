// The command table: every command this TPM implements, gathered from one folder per
// Part 3 chapter. The engine dispatches on it; GetCapability(TPM_CAP_COMMANDS) reports it.
import type { AnyCommand } from '../engine/command.js';
import * as startup from './startup/index.js';
import * as random from './random/index.js';
import * as hash from './hash/index.js';
import * as pcr from './pcr/index.js';

export const ALL_COMMANDS: readonly AnyCommand[] = [startup, random, hash, pcr].flatMap((chapter) => Object.values(chapter) as AnyCommand[]);
