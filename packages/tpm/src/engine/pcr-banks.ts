// The PCR subsystem (Part 1 §17, PC Client Platform TPM Profile §4.6): SHA-1, SHA-256 and
// SHA-384 banks of 24 PCRs, extend and reset with the PC Client locality rules, the
// pcrUpdateCounter, and the dynamic-launch PCRs 17–22 that read all-FF until a DRTM sequence.

import { TPM_ALG } from '../wire/constants.js';
import { digest, digestSize } from '../crypto/hash.js';

export const PCR_COUNT = 24;
export const PCR_BANKS = [TPM_ALG.SHA1, TPM_ALG.SHA256, TPM_ALG.SHA384] as const;

/**
 * Localities allowed to reset and to extend each PCR, one bit per locality 0–4
 * (PC Client Platform TPM Profile, PCR attributes table). PCRs 0–15 reset only at Startup(CLEAR).
 */
const LOCALITY_RULES: Record<number, { reset: number; extend: number }> = {
  16: { reset: 0x1f, extend: 0x1f },
  17: { reset: 0x10, extend: 0x1c },
  18: { reset: 0x10, extend: 0x1c },
  19: { reset: 0x10, extend: 0x0c },
  20: { reset: 0x14, extend: 0x0e },
  21: { reset: 0x04, extend: 0x04 },
  22: { reset: 0x04, extend: 0x04 },
  23: { reset: 0x1f, extend: 0x1f },
};
const STATIC_RULE = { reset: 0, extend: 0x1f };

function rule(pcr: number) {
  return LOCALITY_RULES[pcr] ?? STATIC_RULE;
}

export function isDrtmPcr(pcr: number): boolean {
  return pcr >= 17 && pcr <= 22;
}

/** PCRs 0–15 are preserved by Shutdown(STATE) (PC Client: the static RTM PCRs; TPM_PT_PCR_SAVE). */
export const STATE_SAVED_PCRS = 16;
export function isStateSaved(pcr: number): boolean {
  return pcr < STATE_SAVED_PCRS;
}

export class PcrBanks {
  readonly count = PCR_COUNT;
  /** Incremented on every extend or reset of a PCR (Part 1 §17.6.5); policy sessions compare it. */
  updateCounter = 0;
  /**
   * Each bank's 24 PCRs side by side in one buffer: three allocations per TPM rather than 72,
   * which keeps an idle TPM small when one process hosts thousands of them.
   */
  private readonly banks = new Map<number, Buffer>();

  constructor() {
    for (const alg of PCR_BANKS) this.banks.set(alg, Buffer.alloc(PCR_COUNT * digestSize(alg)));
    this.startupClear();
  }

  /** PCR `pcr` of the bank of `alg`: a view into the bank, written in place. */
  private slot(alg: number, pcr: number): Buffer {
    const size = digestSize(alg);
    return this.banks.get(alg)!.subarray(pcr * size, (pcr + 1) * size);
  }

  supports(alg: number): boolean {
    return this.banks.has(alg);
  }
  algorithms(): number[] {
    return [...this.banks.keys()];
  }

  /** TPM2_Startup(CLEAR) / TPM reset: static PCRs to zero, DRTM PCRs to all-FF (no launch yet). */
  startupClear(): void {
    for (const alg of this.banks.keys()) {
      for (let i = 0; i < PCR_COUNT; i++) this.slot(alg, i).fill(isDrtmPcr(i) ? 0xff : 0);
    }
    this.updateCounter = 0;
  }

  read(alg: number, pcr: number): Buffer {
    return Buffer.from(this.slot(alg, pcr));
  }

  canExtend(pcr: number, locality: number): boolean {
    return locality <= 4 && (rule(pcr).extend & (1 << locality)) !== 0;
  }
  canReset(pcr: number, locality: number): boolean {
    return locality <= 4 && (rule(pcr).reset & (1 << locality)) !== 0;
  }

  /** PCR[i] := H(PCR[i] || data) in the bank of `alg`. */
  extend(pcr: number, alg: number, data: Buffer): void {
    if (!this.banks.has(alg)) return;
    const value = this.slot(alg, pcr);
    digest(alg, value, data).copy(value);
    this.updateCounter++;
  }

  /** Extend every bank with the digest of `event` in that bank's algorithm (TPM2_PCR_Event). */
  extendEvent(pcr: number, event: Buffer): Array<{ hashAlg: number; digest: Buffer }> {
    const out = [];
    for (const alg of this.banks.keys()) {
      const d = digest(alg, event);
      this.extend(pcr, alg, d);
      out.push({ hashAlg: alg, digest: d });
    }
    return out;
  }

  reset(pcr: number): void {
    for (const alg of this.banks.keys()) this.slot(alg, pcr).fill(0);
    this.updateCounter++;
  }

  /** _TPM_Hash_Start … _TPM_Hash_End (Part 1 §34.3): reset 17–22 to zero, extend 17 with H(data). */
  dynamicLaunch(data: Buffer): void {
    for (let i = 17; i <= 22; i++) this.reset(i);
    for (const alg of this.banks.keys()) this.extend(17, alg, digest(alg, data));
  }

  /** The PCRs preserved across TPM2_Shutdown(STATE) / Startup(STATE) (0–15), as hex by bank. */
  snapshot(): Record<number, string[]> {
    const out: Record<number, string[]> = {};
    for (const alg of this.banks.keys()) out[alg] = Array.from({ length: STATE_SAVED_PCRS }, (_, i) => this.slot(alg, i).toString('hex'));
    return out;
  }
  restore(snap: Record<number, string[]>): void {
    for (const [alg, values] of Object.entries(snap)) {
      if (!this.banks.has(Number(alg))) continue;
      values.forEach((v, i) => Buffer.from(v, 'hex').copy(this.slot(Number(alg), i)));
    }
  }
}
