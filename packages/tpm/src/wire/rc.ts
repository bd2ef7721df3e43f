// Response codes (Part 2 §6.6): building format-one codes that name the handle, session or
// parameter at fault, taking them apart again, describing them in spec words, and the error the
// client throws when the TPM answers with anything but TPM_RC_SUCCESS.
//
// Format-one layout: bits 0-5 error number, bit 6 P (parameter), bit 7 F (= RC_FMT1), bits 8-11 N.
// With P set, N is the parameter number (1-15); with P clear, N 1-7 is a handle and N 9-15
// (bit 11, TPM_RC_S) is session N-8. Format-zero codes carry no index: adding one is a no-op,
// as in the reference TPM's RcSafeAddToResult().

import {
  RC_FMT1,
  RC_VER1,
  TPM_RC,
  TPM_RC_H,
  TPM_RC_N_MASK,
  TPM_RC_N_SHIFT,
  TPM_RC_P,
  TPM_RC_S,
} from './constants.js';

const WARNING_BIT = 0x800; // format zero: S (severity) set = warning
const VENDOR_BIT = 0x400; // format zero: T set = vendor-defined code

export function isFormatOne(code: number): boolean {
  return (code & RC_FMT1) !== 0;
}

function withIndex(rc: number, kind: number, n: number, max: number, what: string): number {
  if (!Number.isInteger(n) || n < 1 || n > max) throw new RangeError(`${what} index ${n} not in 1..${max}`);
  if (!isFormatOne(rc)) return rc;
  return (baseRc(rc) | kind | (n << TPM_RC_N_SHIFT)) >>> 0;
}

/** `rc` naming parameter `n` (1-15), e.g. rcParam(TPM_RC.VALUE, 1) = 0x1C4. */
export function rcParam(rc: number, n: number): number {
  return withIndex(rc, TPM_RC_P, n, 15, 'parameter');
}

/** `rc` naming handle `n` (1-7), e.g. rcHandle(TPM_RC.HANDLE, 1) = 0x18B. */
export function rcHandle(rc: number, n: number): number {
  return withIndex(rc, TPM_RC_H, n, 7, 'handle');
}

/** `rc` naming session `n` (1-7), e.g. rcSession(TPM_RC.AUTH_FAIL, 1) = 0x98E. */
export function rcSession(rc: number, n: number): number {
  return withIndex(rc, TPM_RC_S, n, 7, 'session');
}

/** The code without its P/H/S bit and index; format-zero codes are returned unchanged. */
export function baseRc(code: number): number {
  return isFormatOne(code) ? code & ~(TPM_RC_P | TPM_RC_N_MASK) & 0xfff : code;
}

/** Where a format-one code points, or null when it names nothing. */
export function rcLocation(code: number): { kind: 'parameter' | 'handle' | 'session'; index: number } | null {
  if (!isFormatOne(code)) return null;
  const n = (code & TPM_RC_N_MASK) >>> TPM_RC_N_SHIFT;
  if (code & TPM_RC_P) return n === 0 ? null : { kind: 'parameter', index: n };
  if (n === 0) return null;
  return n < 8 ? { kind: 'handle', index: n } : { kind: 'session', index: n - 8 };
}

const NAMES = new Map<number, string>(Object.entries(TPM_RC).map(([k, v]) => [v, `TPM_RC_${k}`]));

/**
 * Spec words for a response code: "TPM_RC_SIZE (parameter 2)", "TPM_RC_LOCALITY (warning)",
 * "TPM_RC_INITIALIZE". Unknown codes are shown in hex.
 */
export function describeRc(code: number): string {
  code >>>= 0;
  const hex = `0x${code.toString(16).padStart(3, '0')}`;
  if (isFormatOne(code)) {
    const name = NAMES.get(baseRc(code)) ?? `format-one error ${hex}`;
    const at = rcLocation(code);
    return at ? `${name} (${at.kind} ${at.index})` : name;
  }
  const name = NAMES.get(code);
  if (code & VENDOR_BIT && code & RC_VER1) return `vendor-defined response code ${hex}`;
  if (!name) return `TPM_RC ${hex}`;
  return (code & WARNING_BIT) !== 0 && (code & RC_VER1) !== 0 ? `${name} (warning)` : name;
}

/** A TPM response other than TPM_RC_SUCCESS, thrown by the client. */
export class TpmError extends Error {
  /** The base code (TPM_RC.*) to compare against, without handle/parameter/session index. */
  readonly base: number;
  readonly location: ReturnType<typeof rcLocation>;
  constructor(
    readonly rc: number,
    context?: string,
  ) {
    super(context ? `${context}: ${describeRc(rc)}` : describeRc(rc));
    this.name = 'TpmError';
    this.base = baseRc(rc);
    this.location = rcLocation(rc);
  }
  /** True when this is `rc` (a TPM_RC.* base code), whatever handle/parameter/session it names. */
  is(rc: number): boolean {
    return this.base === rc;
  }
}
