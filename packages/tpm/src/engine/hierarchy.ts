// Hierarchies (Part 1 §14): the primary seeds, the authValue and authPolicy of each permanent
// handle, and the enables. Seeds never leave this module except into key derivation.

import { randomBytes } from 'node:crypto';
import { TPM_ALG, TPM_RH } from '../wire/constants.js';

export const SEED_BYTES = 64;

interface HierarchyAuth {
  authValue: Buffer;
  authPolicy: Buffer;
  policyAlg: number;
}

const PERMANENT = new Set<number>([TPM_RH.OWNER, TPM_RH.NULL, TPM_RH.LOCKOUT, TPM_RH.ENDORSEMENT, TPM_RH.PLATFORM, TPM_RH.PLATFORM_NV]);

/** Shared by every empty authValue and authPolicy: zero bytes cannot be changed in place. */
const EMPTY = Buffer.alloc(0);

function emptyAuth(): HierarchyAuth {
  return { authValue: EMPTY, authPolicy: EMPTY, policyAlg: TPM_ALG.NULL };
}

export class Hierarchies {
  /** Primary seeds by hierarchy handle. The null seed is replaced at every TPM reset. */
  readonly seeds = new Map<number, Buffer>([
    [TPM_RH.ENDORSEMENT, randomBytes(SEED_BYTES)],
    [TPM_RH.OWNER, randomBytes(SEED_BYTES)],
    [TPM_RH.PLATFORM, randomBytes(SEED_BYTES)],
    [TPM_RH.NULL, randomBytes(SEED_BYTES)],
  ]);
  readonly auth = new Map<number, HierarchyAuth>([
    [TPM_RH.OWNER, emptyAuth()],
    [TPM_RH.ENDORSEMENT, emptyAuth()],
    [TPM_RH.PLATFORM, emptyAuth()],
    [TPM_RH.LOCKOUT, emptyAuth()],
  ]);
  shEnable = true;
  ehEnable = true;
  phEnable = true;
  phEnableNV = true;
  disableClear = false;

  isPermanentHandle(h: number): boolean {
    return PERMANENT.has(h);
  }

  /** The handle is a hierarchy that is currently enabled (TPM_RH_NULL always is). */
  isEnabled(h: number): boolean {
    switch (h) {
      case TPM_RH.OWNER:
        return this.shEnable;
      case TPM_RH.ENDORSEMENT:
        return this.ehEnable;
      case TPM_RH.PLATFORM:
        return this.phEnable;
      case TPM_RH.PLATFORM_NV:
        return this.phEnable && this.phEnableNV;
      default:
        return true;
    }
  }

  seed(h: number): Buffer {
    const s = this.seeds.get(h);
    if (!s) throw new Error(`no seed for hierarchy 0x${h.toString(16)}`);
    return s;
  }

  authOf(h: number): HierarchyAuth {
    const owner = h === TPM_RH.PLATFORM_NV ? TPM_RH.PLATFORM : h;
    return this.auth.get(owner) ?? emptyAuth();
  }

  setAuthValue(h: number, value: Buffer): void {
    this.authOf(h).authValue = Buffer.from(value);
  }

  /** TPM2_SetPrimaryPolicy: the hierarchy's authPolicy and its hash (TPM_ALG_NULL with an empty policy). */
  setPolicy(h: number, authPolicy: Buffer, policyAlg: number): void {
    const a = this.authOf(h);
    a.authPolicy = Buffer.from(authPolicy);
    a.policyAlg = policyAlg;
  }

  /** TPM2_HierarchyControl: set or clear one enable (TPM_RH_PLATFORM_NV names phEnableNV). */
  setEnabled(h: number, on: boolean): void {
    if (h === TPM_RH.OWNER) this.shEnable = on;
    else if (h === TPM_RH.ENDORSEMENT) this.ehEnable = on;
    else if (h === TPM_RH.PLATFORM) this.phEnable = on;
    else if (h === TPM_RH.PLATFORM_NV) this.phEnableNV = on;
  }

  /** The enable named by `h` (unlike isEnabled, TPM_RH_PLATFORM_NV is phEnableNV alone). */
  enable(h: number): boolean {
    return h === TPM_RH.PLATFORM_NV ? this.phEnableNV : this.isEnabled(h);
  }

  /**
   * TPM Reset or Restart (Startup(CLEAR)): platform auth and policy back to empty, and every
   * hierarchy enabled again (shEnable, ehEnable, phEnable and phEnableNV are "_STCLEAR" state,
   * Part 1 §14.4). A TPM Reset also gives a new null seed.
   */
  onStartupClear(reset: boolean): void {
    if (reset) this.seeds.set(TPM_RH.NULL, randomBytes(SEED_BYTES));
    this.auth.set(TPM_RH.PLATFORM, emptyAuth());
    this.phEnable = true;
    this.phEnableNV = true;
    this.shEnable = true;
    this.ehEnable = true;
  }

  /** TPM reset: see onStartupClear. */
  onTpmReset(): void {
    this.onStartupClear(true);
  }

  /**
   * TPM2_Clear (Part 3 §24.6): a new storage primary seed (owner objects and tickets no longer
   * verify); owner, endorsement and lockout auth and policies emptied; shEnable and ehEnable set.
   * The endorsement seed stays (only ChangeEPS replaces it).
   */
  clear(): void {
    this.seeds.set(TPM_RH.OWNER, randomBytes(SEED_BYTES));
    for (const h of [TPM_RH.OWNER, TPM_RH.ENDORSEMENT, TPM_RH.LOCKOUT]) this.auth.set(h, emptyAuth());
    this.shEnable = true;
    this.ehEnable = true;
  }
}
