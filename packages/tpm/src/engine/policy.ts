// Enhanced authorization (Part 1 §19.7, Part 3 §23): what the policy commands share — extending
// a session's policyDigest, PolicyUpdate(commandCode, arg2, arg3), the checks and bookkeeping of
// the nonce/expiration/cpHash arguments of PolicySigned, PolicySecret and PolicyTicket
// (reference Policy_spt.c), their tickets, and the digest of selected PCR values for PolicyPCR.

import { TPM_ALG, TPM_EO, TPM_HT, TPM_RC, TPM_RH, TPM_ST } from '../wire/constants.js';
import { rcParam } from '../wire/rc.js';
import { digest } from '../crypto/hash.js';
import { fail } from './command.js';
import { handleType } from './entities.js';
import type { Session } from './sessions.js';
import { authTicket, ticketMatches } from './tickets.js';
import type { Tpm } from './tpm.js';

/** Bit 63 of a policy timeout: the authorization expires on TPM Reset/Restart (reference EXPIRATION_BIT). */
export const EXPIRATION_BIT = 1n << 63n;

export function u16be(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
}
export function u32be(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}

/** The policy session behind a TPMI_SH_POLICY handle. */
export function policySession(tpm: Tpm, handle: number): Session {
  return tpm.sessions.get(handle);
}

/** policyDigest' = H(policyDigest || commandCode || parts…) in the session's hash. */
export function extendPolicy(s: Session, commandCode: number, ...parts: Buffer[]): void {
  s.policy.digest = digest(s.hashAlg, s.policy.digest, u32be(commandCode), ...parts);
}

/**
 * Part 3 §23.2.3 PolicyUpdate(commandCode, arg2, arg3):
 * policyDigest' = H(H(policyDigest || commandCode || arg2.name) || arg3.buffer).
 */
export function policyUpdate(s: Session, commandCode: number, name: Buffer, policyRef: Buffer): void {
  extendPolicy(s, commandCode, name);
  s.policy.digest = digest(s.hashAlg, s.policy.digest, policyRef);
}

/** Reference PolicyContextUpdate(): PolicyUpdate, then the cpHash and the earliest timeout. */
export function policyContextUpdate(s: Session, commandCode: number, name: Buffer, policyRef: Buffer, cpHash: Buffer, timeout: bigint): void {
  policyUpdate(s, commandCode, name, policyRef);
  if (cpHash.length > 0) s.policy.constraint = { kind: 'cpHash', value: Buffer.from(cpHash) };
  if (timeout !== 0n && (s.policy.timeout === 0n || s.policy.timeout > timeout)) s.policy.timeout = timeout;
}

/**
 * Reference ComputeAuthTimeout(): |expiration| seconds from the session's start when the
 * authorization is bound to its nonceTPM, else from TPM time 0 (plus the current sub-second).
 */
export function authTimeout(tpm: Tpm, s: Session, expiration: number, nonceTPM: Buffer): bigint {
  if (expiration === 0) return 0n;
  const seconds = BigInt(Math.abs(expiration));
  return nonceTPM.length === 0 ? seconds * 1000n + (tpm.clock.time() % 1000n) : s.startTime + seconds * 1000n;
}

/** Which parameter to blame for each argument (0 = the command has none). */
export interface Blame {
  nonce: number;
  cpHash: number;
  expiration: number;
}

/** Reference PolicyParameterChecks(): nonceTPM is this session's, the timeout is ahead, cpHashA fits. */
export function policyParameterChecks(tpm: Tpm, s: Session, timeout: bigint, cpHashA: Buffer, nonceTPM: Buffer | null, blame: Blame): void {
  if (nonceTPM && nonceTPM.length > 0 && !nonceTPM.equals(s.nonceTPM)) fail(rcParam(TPM_RC.NONCE, blame.nonce));
  if (timeout !== 0n && timeout < tpm.clock.time()) fail(rcParam(TPM_RC.EXPIRED, blame.expiration));
  if (cpHashA.length > 0) {
    if (cpHashA.length !== s.policy.digest.length) fail(rcParam(TPM_RC.SIZE, blame.cpHash));
    const c = s.policy.constraint;
    if (c && !c.value.equals(cpHashA)) fail(TPM_RC.CPHASH);
  }
}

/** The hierarchy an entity belongs to, for its tickets (reference EntityGetHierarchy). */
export function hierarchyOf(tpm: Tpm, handle: number): number {
  switch (handleType(handle)) {
    case TPM_HT.TRANSIENT:
    case TPM_HT.PERSISTENT:
      return tpm.objects.get(handle).hierarchy;
    case TPM_HT.PERMANENT:
      return handle === TPM_RH.ENDORSEMENT || handle === TPM_RH.PLATFORM || handle === TPM_RH.NULL ? handle : TPM_RH.OWNER;
    default:
      return TPM_RH.OWNER;
  }
}

function authTicketParts(tpm: Tpm, timeout: bigint, expiresOnReset: boolean, cpHashA: Buffer, policyRef: Buffer, name: Buffer): Buffer[] {
  const t = Buffer.alloc(8);
  t.writeBigUInt64BE(timeout);
  // A ticket that expires on reset is bound to this boot: it names the reset count.
  const boot = Buffer.alloc(4);
  if (expiresOnReset) boot.writeUInt32BE(tpm.clock.resetCount >>> 0);
  return [t, Buffer.of(expiresOnReset ? 1 : 0), boot, cpHashA, policyRef, name];
}

/**
 * The timeout and ticket outputs of PolicySigned/PolicySecret: a ticket only for a negative
 * expiration in a real session; the timeout buffer carries EXPIRATION_BIT when the
 * authorization was not bound to the session's nonce.
 */
export function policyAuthOutputs(
  tpm: Tpm,
  s: Session,
  st: number,
  hierarchy: number,
  expiration: number,
  nonceTPM: Buffer,
  timeout: bigint,
  cpHashA: Buffer,
  policyRef: Buffer,
  name: Buffer,
): { timeout: Buffer; policyTicket: { tag: number; hierarchy: number; digest: Buffer } } {
  if (expiration >= 0 || s.isTrial) return { timeout: Buffer.alloc(0), policyTicket: { tag: st, hierarchy: TPM_RH.NULL, digest: Buffer.alloc(0) } };
  const expiresOnReset = nonceTPM.length === 0;
  const policyTicket = authTicket(tpm, st, hierarchy, ...authTicketParts(tpm, timeout, expiresOnReset, cpHashA, policyRef, name));
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(expiresOnReset ? timeout | EXPIRATION_BIT : timeout);
  return { timeout: out, policyTicket };
}

/** TPM2_PolicyTicket: the ticket is one this TPM issued for these arguments. */
export function authTicketMatches(
  tpm: Tpm,
  t: { tag: number; hierarchy: number; digest: Buffer },
  timeout: bigint,
  expiresOnReset: boolean,
  cpHashA: Buffer,
  policyRef: Buffer,
  name: Buffer,
): boolean {
  if (t.tag !== TPM_ST.AUTH_SIGNED && t.tag !== TPM_ST.AUTH_SECRET) return false;
  return ticketMatches(tpm, t, ...authTicketParts(tpm, timeout, expiresOnReset, cpHashA, policyRef, name));
}

/**
 * Reference PCRComputeCurrentDigest(): H(the selected PCR values, bank by bank in selection
 * order, PCRs in ascending order within each). Banks this TPM lacks contribute nothing.
 */
export function pcrSelectionDigest(tpm: Tpm, hashAlg: number, selection: ReadonlyArray<{ hash: number; pcrSelect: Buffer }>): Buffer {
  const values: Buffer[] = [];
  for (const sel of selection) {
    if (!tpm.pcr.supports(sel.hash)) continue;
    for (let pcr = 0; pcr < Math.min(sel.pcrSelect.length * 8, tpm.pcr.count); pcr++) {
      if (sel.pcrSelect[pcr >> 3]! & (1 << (pcr & 7))) values.push(tpm.pcr.read(sel.hash, pcr));
    }
  }
  return digest(hashAlg, ...values);
}

/** The nameAlg of a TPM2B_NAME holding a digest (alg || H), or TPM_ALG_NULL when it is a handle or malformed. */
export function nameAlgOf(name: Buffer): number {
  return name.length >= 2 ? name.readUInt16BE(0) : TPM_ALG.NULL;
}

function toBigInt(b: Buffer, signed: boolean): bigint {
  if (b.length === 0) return 0n;
  const u = BigInt('0x' + b.toString('hex'));
  return signed && (b[0]! & 0x80) !== 0 ? u - (1n << BigInt(b.length * 8)) : u;
}

/** Reference PolicySptCheckCondition(): `a` (TPM data) compared with `b` (operandB), both big-endian of b's length. */
export function checkCondition(operation: number, a: Buffer, b: Buffer): boolean {
  const cmp = (signed: boolean) => {
    const x = toBigInt(a, signed), y = toBigInt(b, signed);
    return x < y ? -1 : x > y ? 1 : 0;
  };
  switch (operation) {
    case TPM_EO.EQ: return a.equals(b);
    case TPM_EO.NEQ: return !a.equals(b);
    case TPM_EO.SIGNED_GT: return cmp(true) > 0;
    case TPM_EO.UNSIGNED_GT: return cmp(false) > 0;
    case TPM_EO.SIGNED_LT: return cmp(true) < 0;
    case TPM_EO.UNSIGNED_LT: return cmp(false) < 0;
    case TPM_EO.SIGNED_GE: return cmp(true) >= 0;
    case TPM_EO.UNSIGNED_GE: return cmp(false) >= 0;
    case TPM_EO.SIGNED_LE: return cmp(true) <= 0;
    case TPM_EO.UNSIGNED_LE: return cmp(false) <= 0;
    case TPM_EO.BITSET: return b.every((byte, i) => (a[i]! & byte) === byte);
    case TPM_EO.BITCLEAR: return b.every((byte, i) => (a[i]! & byte) === 0);
    default: return false;
  }
}
