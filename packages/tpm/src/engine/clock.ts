// Time and clock (Part 1 §36): `time` counts milliseconds since the last power-on, `clock`
// milliseconds the TPM has been powered in its life (advanced only forward), resetCount and
// restartCount count TPM resets and restarts, and `safe` says no clock value was lost.

export class Clock {
  private powerOnAt = Date.now();
  private clockBase = 0n;
  private clockBaseAt = Date.now();
  resetCount = 0;
  restartCount = 0;
  safe = true;

  time(): bigint {
    return BigInt(Date.now() - this.powerOnAt);
  }

  clock(): bigint {
    return this.clockBase + BigInt(Date.now() - this.clockBaseAt);
  }

  powerOn(): void {
    this.powerOnAt = Date.now();
  }

  /** TPM2_ClockSet: only forward. */
  set(value: bigint): void {
    this.clockBase = value;
    this.clockBaseAt = Date.now();
  }

  onTpmReset(): void {
    this.resetCount++;
    this.restartCount = 0;
  }

  onTpmRestart(): void {
    this.restartCount++;
  }

  /** TPM2_Clear resets the counts and clock safety (Part 3 §24.6). */
  onClear(): void {
    this.resetCount = 0;
    this.restartCount = 0;
  }
}
