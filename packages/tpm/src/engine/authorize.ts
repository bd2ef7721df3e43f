// Authorization of a command (Part 1 §19, Part 3 §5.6; reference SessionProcess.c): read the
// authorization area, check a password, an HMAC or a policy for each handle that needs one,
// count failures toward dictionary-attack lockout, and after execution write the response
// authorization area. Session n authorizes handle n; authorized handles come first.

import { timingSafeEqual } from 'node:crypto';
import { Reader, Writer, WireError } from '../wire/codec.js';
import { TPM_CC } from '../wire/command-codes.js';
import { TPM_ALG, TPM_HT, TPM_RC, TPM_RH, TPM_RS_PW, TPMA_NV } from '../wire/constants.js';
import { rcSession } from '../wire/rc.js';
import { digest } from '../crypto/hash.js';
import { cpHash as computeCpHash, rpHash as computeRpHash } from '../crypto/session-auth.js';
import { TpmFault, type AnyCommand, type AuthRole } from './command.js';
import { handleType, type Entity } from './entities.js';
import { nvAuthAvailable } from './nv.js';
import { SESSION_ATTR, Session, trimTrailingZeros, type SessionUse } from './sessions.js';
import type { Tpm } from './tpm.js';

const MAX_SESSIONS = 3;
const MAX_AUTH_FIELD = 64;
const EMPTY = Buffer.alloc(0);

export interface CommandAuth extends SessionUse {
  handle: number;
  /** null for the password session TPM_RS_PW. */
  session: Session | null;
  /** The entity this session authorizes (undefined for audit/encrypt/decrypt-only sessions). */
  entity?: Entity;
}

/** Part 1 §18.7: the authorization area, `authorizationSize` then TPMS_AUTH_COMMAND entries. */
export function parseAuthArea(tpm: Tpm, r: Reader): CommandAuth[] {
  const authSize = r.u32();
  if (authSize < 9 || authSize > r.remaining) throw new TpmFault(TPM_RC.AUTHSIZE);
  const ar = r.sub(authSize);
  const out: CommandAuth[] = [];
  while (ar.remaining > 0) {
    const index = out.length + 1;
    if (index > MAX_SESSIONS) throw new TpmFault(rcSession(TPM_RC.SIZE, index));
    const at = (rc: number) => new TpmFault(rcSession(rc, index));
    let handle: number, nonceCaller: Buffer, attributes: number, hmac: Buffer;
    try {
      handle = ar.u32();
      const ht = handleType(handle);
      if (handle !== TPM_RS_PW && ht !== TPM_HT.HMAC_SESSION && ht !== TPM_HT.POLICY_SESSION) throw at(TPM_RC.VALUE);
      nonceCaller = readB2(ar);
      attributes = ar.u8();
      if ((attributes & 0x18) !== 0) throw at(TPM_RC.RESERVED_BITS);
      hmac = readB2(ar);
    } catch (e) {
      if (e instanceof WireError) throw at(e.rc);
      throw e;
    }
    let session: Session | null = null;
    if (handle === TPM_RS_PW) {
      if ((attributes & ~SESSION_ATTR.continueSession) !== 0) throw at(TPM_RC.ATTRIBUTES);
      if (nonceCaller.length !== 0) throw at(TPM_RC.NONCE);
    } else {
      if (!tpm.entities.exists(handle)) throw new TpmFault(TPM_RC.REFERENCE_S0 + index - 1);
      if (out.some((a) => a.handle === handle)) throw at(TPM_RC.HANDLE);
      session = tpm.sessions.get(handle);
    }
    out.push({ index, handle, session, nonceCaller, attributes, hmac, includeAuth: false, entityAuth: () => EMPTY });
  }
  return out;
}

function readB2(r: Reader): Buffer {
  const n = r.u16();
  if (n > MAX_AUTH_FIELD) throw new WireError(TPM_RC.SIZE, 'auth field too large');
  return r.bytes(n);
}

/** Reference RetrieveSessionData(): decrypt, encrypt and audit each in at most one session, and only where they can apply. */
function checkSessionAttributes(cmd: AnyCommand, auths: CommandAuth[]): void {
  let decrypt = false, encrypt = false, audit = false;
  for (const use of auths) {
    const s = use.session;
    if (!s) continue;
    const at = (rc: number) => new TpmFault(rcSession(rc, use.index));
    if (use.attributes & SESSION_ATTR.decrypt) {
      if (!cmd.encryptsFirstParam || decrypt) throw at(TPM_RC.ATTRIBUTES);
      if (s.symmetric.algorithm === TPM_ALG.NULL) throw at(TPM_RC.SYMMETRIC);
      decrypt = true;
    }
    if (use.attributes & SESSION_ATTR.encrypt) {
      if (!cmd.decryptsFirstResponseParam || encrypt) throw at(TPM_RC.ATTRIBUTES);
      if (s.symmetric.algorithm === TPM_ALG.NULL) throw at(TPM_RC.SYMMETRIC);
      encrypt = true;
    }
    if (use.attributes & SESSION_ATTR.audit) {
      if (audit || s.isPolicy) throw at(TPM_RC.ATTRIBUTES);
      audit = true;
    }
  }
}

function secretsEqual(a: Buffer, b: Buffer): boolean {
  // As the reference's MemoryEqual2B: sizes first (a size is not secret), then every byte in
  // constant time, so the time taken does not depend on where the values differ.
  return a.length === b.length && timingSafeEqual(a, b);
}

const isObjectHandle = (h: number) => handleType(h) === TPM_HT.TRANSIENT || handleType(h) === TPM_HT.PERSISTENT;

/** Reference IsDAExempted(): lockoutAuth is DA-protected; other permanent handles and PCRs are not. */
export function isDaExempt(entity: Entity | undefined): boolean {
  if (!entity) return false;
  return entity.handle === TPM_RH.LOCKOUT ? false : !entity.daProtected;
}

/** Reference CheckLockedOut(). */
function checkLockedOut(tpm: Tpm, lockoutAuth: boolean): void {
  if (lockoutAuth ? tpm.da.lockoutAuthLocked() : tpm.da.inLockout) throw new TpmFault(TPM_RC.LOCKOUT);
}

/** Step 5 of the pipeline: every session is checked; session n authorizes handle n when that handle has a role. */
export function authorizeAll(
  tpm: Tpm,
  cmd: AnyCommand,
  handles: Record<string, number>,
  authHandles: string[],
  auths: CommandAuth[],
  params: Buffer,
  locality: number,
): void {
  checkSessionAttributes(cmd, auths);
  const names = cmd.handleNames.map((n) => tpm.entities.name(handles[n]!));
  const cpHashFor = (alg: number) => computeCpHash(alg, cmd.code, names, params);
  const decryptIdx = auths.findIndex((a) => a.attributes & SESSION_ATTR.decrypt);
  const encryptIdx = auths.findIndex((a) => a.attributes & SESSION_ATTR.encrypt);

  auths.forEach((use, i) => {
    const handleName = authHandles[i];
    const entityHandle = handleName === undefined ? undefined : handles[handleName]!;
    const session = use.session;
    const at = (rc: number) => new TpmFault(rcSession(rc, use.index));

    if (entityHandle === undefined && !session) throw at(TPM_RC.HANDLE);
    if (session?.isTrial) throw at(TPM_RC.ATTRIBUTES);
    if (session?.isDaBound) checkLockedOut(tpm, session.isLockoutBound);

    if (entityHandle === undefined) {
      // An audit, encrypt or decrypt session: checked with its session key alone.
      if ((use.attributes & (SESSION_ATTR.audit | SESSION_ATTR.encrypt | SESSION_ATTR.decrypt)) === 0) throw at(TPM_RC.ATTRIBUTES);
      use.includeAuth = false;
      if (!session!.checkCommandHmac(session!.commandHmac(cpHashFor(session!.hashAlg), use, []), use.hmac)) {
        throw at(authFailure(tpm, use, undefined));
      }
      return;
    }

    const entity = tpm.entities.resolve(entityHandle);
    use.entity = entity;
    use.entityAuth = () => (tpm.entities.exists(entityHandle) ? trimTrailingZeros(tpm.entities.resolve(entityHandle).authValue) : EMPTY);
    const role = cmd.handles[handleName!]!.auth as AuthRole;
    const extra: Buffer[] =
      i === 0 && session
        ? [decryptIdx > 0 ? auths[decryptIdx]!.session!.nonceTPM : EMPTY, encryptIdx > 0 && encryptIdx !== decryptIdx ? auths[encryptIdx]!.session!.nonceTPM : EMPTY]
        : [];
    try {
      checkAuthSession(tpm, cmd, use, entity, role, locality, names, params, cpHashFor, extra);
    } catch (e) {
      if (e instanceof TpmFault) throw at(e.rc);
      throw e;
    }
  });
}

/** An NV index authorizing itself needs TPMA_NV_AUTHREAD/AUTHWRITE (POLICYREAD/POLICYWRITE for a policy) for the command. */
function nvSelfAuthAvailable(tpm: Tpm, entity: Entity, commandCode: number, policy: boolean): boolean {
  if (handleType(entity.handle) !== TPM_HT.NV_INDEX) return true;
  return nvAuthAvailable(tpm.nv.get(entity.handle).public.attributes, commandCode, policy);
}

/** Reference CheckAuthSession(): the session authorizes `entity` in `role`; throws a bare (session-less) code. */
function checkAuthSession(
  tpm: Tpm,
  cmd: AnyCommand,
  use: CommandAuth,
  entity: Entity,
  role: AuthRole,
  locality: number,
  names: Buffer[],
  params: Buffer,
  cpHashFor: (alg: number) => Buffer,
  extra: Buffer[],
): void {
  const s = use.session;
  if (s) use.includeAuth = s.isPolicy ? s.policy.isAuthValueNeeded || s.policy.isPasswordNeeded : !s.isBoundTo(entity.name, entity.authValue);
  if ((!s || use.includeAuth) && !isDaExempt(entity)) checkLockedOut(tpm, entity.handle === TPM_RH.LOCKOUT);

  const sensitiveLoaded = !isObjectHandle(entity.handle) || tpm.objects.get(entity.handle).sensitive !== null;
  if (!s?.isPolicy) {
    const policyRequired = role === 'DUP' || (role === 'ADMIN' && (!isObjectHandle(entity.handle) || entity.adminWithPolicy));
    if (policyRequired) throw new TpmFault(TPM_RC.AUTH_TYPE);
    const authValueAvailable =
      sensitiveLoaded && (entity.userWithAuth || (role === 'ADMIN' && !entity.adminWithPolicy)) && nvSelfAuthAvailable(tpm, entity, cmd.code, false);
    if (!authValueAvailable) throw new TpmFault(TPM_RC.AUTH_UNAVAILABLE);
  } else {
    const policyAvailable =
      (isObjectHandle(entity.handle) ? sensitiveLoaded : entity.authPolicy.length > 0) &&
      (role !== 'USER' || nvSelfAuthAvailable(tpm, entity, cmd.code, true)); // ADMIN/DUP always take a policy
    if (!policyAvailable) throw new TpmFault(TPM_RC.AUTH_UNAVAILABLE);
    checkPolicy(tpm, s, entity, cmd, role, locality, names, params, cpHashFor);
  }

  if (!s || s.policy.isPasswordNeeded) {
    // Password: the hmac field carries the authValue in the clear; trailing zeros do not count.
    if (!secretsEqual(trimTrailingZeros(use.hmac), use.entityAuth())) throw new TpmFault(authFailure(tpm, use, entity));
    return;
  }
  if (!s.checkCommandHmac(s.commandHmac(cpHashFor(s.hashAlg), use, extra), use.hmac)) throw new TpmFault(authFailure(tpm, use, entity));
}

/**
 * Reference IncrementLockout(): a failure counts toward lockout when the authValue of a
 * DA-protected entity was used (or the session is bound to one); the answer is then
 * TPM_RC_AUTH_FAIL, else TPM_RC_BAD_AUTH. A failed lockoutAuth disables lockoutAuth instead.
 */
function authFailure(tpm: Tpm, use: CommandAuth, entity: Entity | undefined): number {
  const s = use.session;
  let lockout = entity?.handle === TPM_RH.LOCKOUT;
  if (!s) {
    if (isDaExempt(entity)) return TPM_RC.BAD_AUTH;
  } else {
    if (s.isLockoutBound) lockout = true;
    if (!s.isDaBound && ((!lockout && isDaExempt(entity)) || !use.includeAuth)) return TPM_RC.BAD_AUTH;
  }
  if (lockout) tpm.da.lockoutAuthFailed();
  else if (tpm.da.recoveryTime !== 0) tpm.da.recordFailure();
  return TPM_RC.AUTH_FAIL;
}

/** Reference CheckPolicyAuthSession(): the session's digest and the conditions it accumulated hold for this command. */
function checkPolicy(
  tpm: Tpm,
  s: Session,
  entity: Entity,
  cmd: AnyCommand,
  role: AuthRole,
  locality: number,
  names: Buffer[],
  params: Buffer,
  cpHashFor: (alg: number) => Buffer,
): void {
  const p = s.policy;
  const bad = (rc: number) => new TpmFault(rc);
  if (cmd.code === TPM_CC.PolicySecret && !p.isPasswordNeeded && !p.isAuthValueNeeded) throw bad(TPM_RC.MODE);
  if (p.pcrCounter !== undefined && p.pcrCounter !== tpm.pcr.updateCounter) throw bad(TPM_RC.PCR_CHANGED);
  if (!p.digest.equals(entity.authPolicy) || entity.policyAlg !== s.hashAlg) throw bad(TPM_RC.POLICY_FAIL);
  if (p.timeout !== 0n && p.timeout < tpm.clock.time()) throw bad(TPM_RC.EXPIRED);
  if (p.commandCode !== undefined) {
    if (p.commandCode !== cmd.code) throw bad(TPM_RC.POLICY_CC);
  } else if (role === 'ADMIN' || role === 'DUP') {
    throw bad(TPM_RC.POLICY_FAIL);
  }
  if (p.locality !== 0) {
    const ok = locality < 5 ? p.locality < 32 && (p.locality & (1 << locality)) !== 0 : p.locality === locality;
    if (!ok) throw bad(TPM_RC.LOCALITY);
  }
  if (p.isPPRequired) throw bad(TPM_RC.PP); // this platform never asserts physical presence
  const c = p.constraint;
  if (c) {
    const ok =
      c.kind === 'cpHash'
        ? c.value.equals(cpHashFor(s.hashAlg))
        : c.kind === 'nameHash'
          ? c.value.equals(digest(s.hashAlg, ...names))
          : templateHashMatches(cmd.code, params, s.hashAlg, c.value);
    if (!ok) throw bad(TPM_RC.POLICY_FAIL);
  }
  if (p.nvWritten !== undefined) {
    if (handleType(entity.handle) !== TPM_HT.NV_INDEX) throw bad(TPM_RC.POLICY_FAIL);
    const written = (tpm.nv.get(entity.handle).public.attributes & TPMA_NV.WRITTEN) !== 0;
    if (written !== p.nvWritten) throw bad(TPM_RC.POLICY_FAIL);
  }
}

/** Reference CompareTemplateHash(): H(second parameter's contents) for Create, CreatePrimary and CreateLoaded. */
function templateHashMatches(code: number, params: Buffer, hashAlg: number, expected: Buffer): boolean {
  if (code !== TPM_CC.Create && code !== TPM_CC.CreatePrimary && code !== TPM_CC.CreateLoaded) return false;
  if (params.length < 2) return false;
  const skip = 2 + params.readUInt16BE(0);
  if (params.length < skip + 2) return false;
  const size = params.readUInt16BE(skip);
  if (params.length < skip + 2 + size) return false;
  return digest(hashAlg, params.subarray(skip + 2, skip + 2 + size)).equals(expected);
}

/** Step 8: the response authorization area, and session bookkeeping after a successful command. */
export function finishSessions(tpm: Tpm, cmd: AnyCommand, auths: CommandAuth[], rpParams: Buffer, w: Writer): void {
  const now = tpm.clock.time();
  for (const use of auths) {
    const s = use.session;
    if (!s) {
      // Password sessions always answer with continueSession SET.
      w.u16(0);
      w.u8(SESSION_ATTR.continueSession);
      w.u16(0);
      continue;
    }
    const mac = s.isPolicy && s.policy.isPasswordNeeded ? EMPTY : s.responseHmac(computeRpHash(s.hashAlg, TPM_RC.SUCCESS, cmd.code, rpParams), use);
    w.u16(s.nonceTPM.length);
    w.bytes(s.nonceTPM);
    w.u8(use.attributes);
    w.u16(mac.length);
    w.bytes(mac);
    const continues = (use.attributes & SESSION_ATTR.continueSession) !== 0;
    if (s.isPolicy && continues) s.restartPolicy(now);
    if (!continues) tpm.sessions.flush(s.handle);
  }
}
