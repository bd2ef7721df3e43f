// Authorization of a command (Part 1 §19, Part 3 §5.6): read the authorization area, check a
// password, an HMAC or a policy for each handle that needs one, count failures toward
// dictionary-attack lockout, and after execution write the response authorization area.

import { createHash, timingSafeEqual } from 'node:crypto';
import { Reader, Writer, WireError } from '../wire/codec.js';
import { TPM_HT, TPM_RC, TPM_RS_PW } from '../wire/constants.js';
import { rcSession } from '../wire/rc.js';
import { digest } from '../crypto/hash.js';
import { TpmFault, type AnyCommand } from './command.js';
import { handleType, type Entity } from './entities.js';
import { SESSION_ATTR, Session, type SessionUse } from './sessions.js';
import type { Tpm } from './tpm.js';

const MAX_SESSIONS = 3;

export interface CommandAuth extends SessionUse {
  handle: number;
  /** null for the password session TPM_RS_PW. */
  session: Session | null;
  hmac: Buffer;
  /** The entity this session authorizes (undefined for audit/encrypt-only sessions). */
  entity?: Entity;
}

function readB2(r: Reader, max: number): Buffer {
  const n = r.u16();
  if (n > max) throw new WireError(TPM_RC.SIZE, 'auth field too large');
  return r.bytes(n);
}

/** Part 1 §18.7: the authorization area, `authorizationSize` then TPMS_AUTH_COMMAND entries. */
export function parseAuthArea(tpm: Tpm, r: Reader): CommandAuth[] {
  const authSize = r.u32();
  if (authSize < 9 || authSize > r.remaining) throw new TpmFault(TPM_RC.AUTHSIZE);
  const ar = r.sub(authSize);
  const out: CommandAuth[] = [];
  while (ar.remaining > 0) {
    const index = out.length + 1;
    if (index > MAX_SESSIONS) throw new TpmFault(TPM_RC.AUTHSIZE);
    let handle: number, nonceCaller: Buffer, attributes: number, hmac: Buffer;
    try {
      handle = ar.u32();
      nonceCaller = readB2(ar, 64);
      attributes = ar.u8();
      hmac = readB2(ar, 64);
    } catch (e) {
      if (e instanceof WireError) throw new TpmFault(TPM_RC.AUTHSIZE);
      throw e;
    }
    if ((attributes & 0x18) !== 0) throw new TpmFault(rcSession(TPM_RC.RESERVED_BITS, index));
    let session: Session | null = null;
    if (handle === TPM_RS_PW) {
      if (nonceCaller.length !== 0 || (attributes & ~SESSION_ATTR.continueSession) !== 0) {
        throw new TpmFault(rcSession(TPM_RC.ATTRIBUTES, index));
      }
    } else {
      const ht = handleType(handle);
      if ((ht !== TPM_HT.HMAC_SESSION && ht !== TPM_HT.POLICY_SESSION) || !tpm.sessions.has(handle)) {
        throw new TpmFault(rcSession(TPM_RC.HANDLE, index));
      }
      if (out.some((a) => a.handle === handle)) throw new TpmFault(rcSession(TPM_RC.HANDLE, index));
      session = tpm.sessions.get(handle);
      const want = session.nonceTPM.length;
      if (nonceCaller.length < 16 || nonceCaller.length > want) throw new TpmFault(rcSession(TPM_RC.NONCE, index));
    }
    out.push({ index, handle, session, nonceCaller, attributes, hmac, authValue: Buffer.alloc(0) });
  }
  return out;
}

function cpHash(hashAlg: number, code: number, names: Buffer[], params: Buffer): Buffer {
  const cc = Buffer.alloc(4);
  cc.writeUInt32BE(code);
  return digest(hashAlg, cc, ...names, params);
}

function equalSecret(a: Buffer, b: Buffer): boolean {
  // Compare digests so the comparison time does not depend on where the values differ or their lengths.
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/** Step 6 of the pipeline: every handle with an authorization role gets its session checked. */
export function authorizeAll(
  tpm: Tpm,
  cmd: AnyCommand,
  handles: Record<string, number>,
  authHandles: string[],
  auths: CommandAuth[],
  params: Buffer,
  locality: number,
): void {
  const names = cmd.handleNames.map((n) => tpm.entities.name(handles[n]!));
  // Nonces of the decrypt/encrypt sessions that are not the first session join the first's HMAC.
  const decryptIdx = auths.findIndex((a) => a.session?.decrypts(a.attributes));
  const encryptIdx = auths.findIndex((a) => a.session?.encrypts(a.attributes));

  auths.forEach((use, i) => {
    const entityHandle = i < authHandles.length ? handles[authHandles[i]!]! : undefined;
    const entity = entityHandle === undefined ? undefined : tpm.entities.resolve(entityHandle);
    use.entity = entity;
    const role = entity ? cmd.handles[authHandles[i]!]!.auth! : undefined;
    const session = use.session;

    if (!entity) {
      // An audit or encryption session: no authorization, but it must not be a password session.
      if (!session) throw new TpmFault(rcSession(TPM_RC.AUTH_CONTEXT, use.index));
      use.authValue = Buffer.alloc(0);
      const expected = session.commandHmac(cpHash(session.hashAlg, cmd.code, names, params), use, []);
      if (!session.checkCommandHmac(expected, use.hmac)) throw new TpmFault(rcSession(TPM_RC.AUTH_FAIL, use.index));
      return;
    }

    if (tpm.da.isLockedOut(entity)) throw new TpmFault(TPM_RC.LOCKOUT);

    // Which kinds of authorization the role accepts (Part 1 §19.2).
    const policyOnly = role === 'DUP' || (role === 'ADMIN' && entity.adminWithPolicy) || (role === 'USER' && !entity.userWithAuth);
    if (policyOnly && !session?.isPolicy) throw new TpmFault(rcSession(TPM_RC.AUTH_UNAVAILABLE, use.index));

    if (!session) {
      // Password session: the hmac field carries the authValue in the clear.
      use.authValue = entity.authValue;
      if (!equalSecret(use.hmac, trim(entity.authValue)) && !equalSecret(use.hmac, entity.authValue)) {
        authFailed(tpm, entity, use.index);
      }
      return;
    }

    if (session.isPolicy) {
      if (session.isTrial) throw new TpmFault(rcSession(TPM_RC.ATTRIBUTES, use.index));
      checkPolicy(tpm, session, entity, cmd.code, locality, use.index, names, params);
      if (session.policy.isPasswordNeeded) {
        use.authValue = entity.authValue;
        if (!equalSecret(use.hmac, trim(entity.authValue))) authFailed(tpm, entity, use.index);
        return;
      }
      use.authValue = session.policy.isAuthValueNeeded ? entity.authValue : Buffer.alloc(0);
    } else {
      use.authValue = session.isBoundTo(entity.name, entity.authValue) ? Buffer.alloc(0) : entity.authValue;
    }
    const extra: Buffer[] = [];
    if (i === 0) {
      if (decryptIdx > 0) extra.push(auths[decryptIdx]!.session!.nonceTPM);
      if (encryptIdx > 0 && encryptIdx !== decryptIdx) extra.push(auths[encryptIdx]!.session!.nonceTPM);
    }
    const expected = session.commandHmac(cpHash(session.hashAlg, cmd.code, names, params), use, extra);
    if (!session.checkCommandHmac(expected, use.hmac)) {
      if (use.authValue.length > 0 || !session.isPolicy) authFailed(tpm, entity, use.index);
      throw new TpmFault(rcSession(TPM_RC.AUTH_FAIL, use.index));
    }
  });
}

function trim(b: Buffer): Buffer {
  let n = b.length;
  while (n > 0 && b[n - 1] === 0) n--;
  return b.subarray(0, n);
}

function authFailed(tpm: Tpm, entity: Entity, index: number): never {
  if (entity.daProtected) {
    tpm.da.recordFailure();
    throw new TpmFault(rcSession(TPM_RC.AUTH_FAIL, index));
  }
  throw new TpmFault(rcSession(entity.handle === 0x4000000a ? TPM_RC.AUTH_FAIL : TPM_RC.BAD_AUTH, index));
}

/** Part 1 §19.7.x: a policy session authorizes only when its accumulated digest and checks match. */
function checkPolicy(tpm: Tpm, s: Session, entity: Entity, code: number, locality: number, index: number, names: Buffer[], params: Buffer): void {
  const p = s.policy;
  const bad = (rc: number) => new TpmFault(rcSession(rc, index));
  if (s.hashAlg !== entity.policyAlg && entity.authPolicy.length > 0) throw bad(TPM_RC.POLICY_FAIL);
  if (entity.authPolicy.length === 0 || !p.digest.equals(entity.authPolicy)) throw bad(TPM_RC.POLICY_FAIL);
  if (p.commandCode !== undefined && p.commandCode !== code) throw bad(TPM_RC.POLICY_CC);
  if (p.pcrCounter !== undefined && p.pcrCounter !== tpm.pcr.updateCounter) throw bad(TPM_RC.PCR_CHANGED);
  if (p.locality !== undefined && (p.locality & (1 << locality)) === 0) throw bad(TPM_RC.LOCALITY);
  if (p.cpHash && !p.cpHash.equals(cpHash(s.hashAlg, code, names, params))) throw bad(TPM_RC.POLICY_FAIL);
  if (p.nameHash && !p.nameHash.equals(digest(s.hashAlg, ...names))) throw bad(TPM_RC.POLICY_FAIL);
}

/** Step 8: the response authorization area, and session bookkeeping after a successful command. */
export function finishSessions(tpm: Tpm, cmd: AnyCommand, auths: CommandAuth[], rpParams: Buffer, w: Writer): void {
  for (const use of auths) {
    const s = use.session;
    if (!s) {
      w.u16(0);
      w.u8(use.attributes & SESSION_ATTR.continueSession ? SESSION_ATTR.continueSession : 0);
      w.u16(0);
      continue;
    }
    // A changed authValue (HierarchyChangeAuth, ObjectChangeAuth) is used for the response HMAC.
    if (use.entity && use.authValue.length > 0 && tpm.entities.exists(use.entity.handle)) {
      use.authValue = tpm.entities.resolve(use.entity.handle).authValue;
    }
    const rc = Buffer.alloc(8);
    rc.writeUInt32BE(TPM_RC.SUCCESS, 0);
    rc.writeUInt32BE(cmd.code, 4);
    const rpHash = digest(s.hashAlg, rc, rpParams);
    const passwordPolicy = s.isPolicy && s.policy.isPasswordNeeded;
    w.u16(s.nonceTPM.length);
    w.bytes(s.nonceTPM);
    w.u8(use.attributes);
    const mac = passwordPolicy ? Buffer.alloc(0) : s.responseHmac(rpHash, use);
    w.u16(mac.length);
    w.bytes(mac);
    if (use.entity && s.isPolicy) s.restartPolicy();
    if ((use.attributes & SESSION_ATTR.continueSession) === 0) tpm.sessions.flush(s.handle);
  }
}
