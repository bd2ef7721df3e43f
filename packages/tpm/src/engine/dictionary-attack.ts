// Dictionary-attack protection (Part 1 §19.8): failed authorizations of DA-protected entities
// count up to maxTries, after which the TPM is in lockout until failures recover (one per
// recoveryTime seconds) or the lockout hierarchy resets the count. A failed lockoutAuth locks
// the lockout hierarchy itself for lockoutRecovery seconds (until the next TPM Reset when
// lockoutRecovery is 0). recoveryTime 0 turns the protection off: failures are not counted.

import type { Entity } from './entities.js';

const LOCKOUT = 0x4000000a;

export class DictionaryAttack {
  private failures = 0;
  maxTries = 32;
  recoveryTime = 600;
  lockoutRecovery = 86400;
  /** When the failure count last went down by self-healing (or first went up). */
  private healedAt = 0;
  /** When lockoutAuth last failed; `untilReset` when lockoutRecovery was 0 at the time. */
  private lockoutAuthFailure: { at: number; untilReset: boolean } | null = null;
  /** Counts changes of the failure count or the lockoutAuth lock, for the platform to persist them. */
  changes = 0;

  constructor(private readonly now: () => number) {}

  /** Self-healing: one failure forgiven per recoveryTime seconds since the last one was. */
  private heal(): void {
    if (this.recoveryTime === 0 || this.failures === 0) return;
    const interval = this.recoveryTime * 1000;
    const steps = Math.floor((this.now() - this.healedAt) / interval);
    if (steps <= 0) return;
    this.failures = Math.max(0, this.failures - steps);
    this.healedAt += steps * interval;
  }

  /** TPM_PT_LOCKOUT_COUNTER. */
  get failedTries(): number {
    this.heal();
    return this.failures;
  }

  get inLockout(): boolean {
    return this.maxTries === 0 || this.failedTries >= this.maxTries;
  }

  isLockedOut(entity: Entity): boolean {
    if (entity.handle === LOCKOUT) return this.lockoutAuthLocked();
    return entity.daProtected && this.inLockout;
  }

  recordFailure(): void {
    this.heal();
    if (this.failures === 0) this.healedAt = this.now();
    this.failures++;
    this.changes++;
  }

  lockoutAuthFailed(): void {
    this.lockoutAuthFailure = { at: this.now(), untilReset: this.lockoutRecovery === 0 };
    this.changes++;
  }

  lockoutAuthLocked(): boolean {
    const f = this.lockoutAuthFailure;
    if (!f) return false;
    return f.untilReset || this.now() - f.at < this.lockoutRecovery * 1000;
  }

  /** TPM2_DictionaryAttackLockReset: the failure count back to zero. */
  reset(): void {
    this.failures = 0;
  }

  /** TPM2_DictionaryAttackParameters: new limits, and the failure count back to zero. */
  setParameters(maxTries: number, recoveryTime: number, lockoutRecovery: number): void {
    this.maxTries = maxTries;
    this.recoveryTime = recoveryTime;
    this.lockoutRecovery = lockoutRecovery;
    this.failures = 0;
  }

  /**
   * Startup after a power loss without Shutdown (reference DAStartup): a failure may have gone
   * unrecorded, so one is counted, unless protection is off or the TPM is already locked out.
   */
  onNonOrderlyStartup(): void {
    if (this.recoveryTime === 0 || this.failedTries >= this.maxTries) return;
    this.recordFailure();
  }

  /** What survives power loss (reference gp.failedTries, gp.lockOutAuthEnabled). */
  persistentState(): { failedTries: number; lockoutAuthLocked: boolean } {
    return { failedTries: this.failedTries, lockoutAuthLocked: this.lockoutAuthLocked() };
  }

  /** After power-on from saved state: the self-healing and lockoutAuth timers start again from now. */
  restorePersistentState(s: { failedTries: number; lockoutAuthLocked: boolean }): void {
    this.failures = s.failedTries;
    this.healedAt = this.now();
    this.lockoutAuthFailure = s.lockoutAuthLocked ? { at: this.now(), untilReset: this.lockoutRecovery === 0 } : null;
  }

  /** TPM Reset: a lockoutAuth locked "until the next TPM Reset" is usable again. */
  onTpmReset(): void {
    if (this.lockoutAuthFailure?.untilReset) this.lockoutAuthFailure = null;
  }
}
