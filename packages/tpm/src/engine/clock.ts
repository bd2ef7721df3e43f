// Time and clock (Part 1 §36): `time` counts milliseconds since the last power-on, `clock`
// milliseconds the TPM has been powered in its life (set only forward, by ClockSet, or to zero
// by Clear), resetCount and restartCount count TPM resets and restarts, and `safe` says no
// clock value was lost. ClockRateAdjust's setting is kept but this clock runs at host speed.

export class Clock {
  private powerOnAt = Date.now();
  private clockBase = 0n;
  private clockBaseAt = Date.now();
  resetCount = 0;
  restartCount = 0;
  safe = true;
  /** The last TPM2_ClockRateAdjust (TPM_CLOCK_ADJUST, -3 … +3). */
  rateAdjust = 0;

  time(): bigint {
    return BigInt(Date.now() - this.powerOnAt);
  }

  clock(): bigint {
    return this.clockBase + BigInt(Date.now() - this.clockBaseAt);
  }

  powerOn(): void {
    this.powerOnAt = Date.now();
  }

  /** TPM2_ClockSet (the command has checked that `value` is not behind the clock). */
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

  /** TPM2_Clear (Part 3 §24.6): Clock to zero, resetCount and restartCount to zero, Safe to YES. */
  onClear(): void {
    this.set(0n);
    this.resetCount = 0;
    this.restartCount = 0;
    this.safe = true;
  }
}
