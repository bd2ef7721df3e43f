// The command table: every command this TPM implements, gathered from one folder per
// Part 3 chapter. The engine dispatches on it; GetCapability(TPM_CAP_COMMANDS) reports it.
import type { AnyCommand } from '../engine/command.js';
import * as startup from './startup/index.js';
import * as random from './random/index.js';
import * as hash from './hash/index.js';
import * as pcr from './pcr/index.js';
import * as capability from './capability/index.js';
import * as nv from './nv/index.js';
import * as dictionaryAttack from './dictionary-attack/index.js';
import * as clock from './clock/index.js';
import * as asymmetric from './asymmetric/index.js';
import * as symmetric from './symmetric/index.js';
import * as duplication from './duplication/index.js';
import * as attestation from './attestation/index.js';
import * as signing from './signing/index.js';
import * as credential from './credential/index.js';
import * as hierarchy from './hierarchy/index.js';
import * as object from './object/index.js';
import * as context from './context/index.js';
import * as session from './session/index.js';
import * as policy from './policy/index.js';

export const ALL_COMMANDS: readonly AnyCommand[] = [startup, random, hash, pcr, capability, nv, dictionaryAttack, clock, asymmetric, symmetric, duplication, attestation, signing, credential, hierarchy, object, context, session, policy].flatMap((chapter) => Object.values(chapter) as AnyCommand[]);
