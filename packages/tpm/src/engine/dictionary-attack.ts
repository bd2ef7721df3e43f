// Dictionary-attack protection (Part 1 §19.8): failed authorizations of DA-protected entities
// count up to maxTries, after which the TPM is in lockout until failures recover (one per
// recoveryTime seconds) or the lockout hierarchy resets the count. A failed lockoutAuth locks
// the lockout hierarchy itself for lockoutRecovery seconds.

import type { Entity } from './entities.js';

export class DictionaryAttack {
  failedTries = 0;
  maxTries = 32;
  recoveryTime = 600;
  lockoutRecovery = 86400;
  private lastRecovery = 0;
  private lockoutAuthFailedAt: number | null = null;

  constructor(private readonly now: () => number) {}

  private recover(): void {
    if (this.recoveryTime === 0) return;
    const t = this.now();
    const steps = Math.floor((t - this.lastRecovery) / (this.recoveryTime * 1000));
    if (steps > 0 && this.failedTries > 0) {
      this.failedTries = Math.max(0, this.failedTries - steps);
      this.lastRecovery = t;
    }
  }

  get inLockout(): boolean {
    this.recover();
    return this.maxTries === 0 || this.failedTries >= this.maxTries;
  }

  isLockedOut(entity: Entity): boolean {
    if (entity.handle === 0x4000000a) return this.lockoutAuthLocked();
    return entity.daProtected && this.inLockout;
  }

  recordFailure(): void {
    this.recover();
    if (this.failedTries === 0) this.lastRecovery = this.now();
    this.failedTries++;
  }

  lockoutAuthFailed(): void {
    this.lockoutAuthFailedAt = this.now();
  }

  lockoutAuthLocked(): boolean {
    if (this.lockoutAuthFailedAt === null) return false;
    if (this.lockoutRecovery === 0) return false;
    return this.now() - this.lockoutAuthFailedAt < this.lockoutRecovery * 1000;
  }

  /** TPM2_DictionaryAttackLockReset. */
  reset(): void {
    this.failedTries = 0;
  }
}
