// Authorization sessions (Part 1 §19): the session table, each session's nonces and key, the
// command/response HMACs of §19.6, parameter encryption (§21), and the policy state a policy
// session accumulates (Part 3 §23). Session handles are 0x02xxxxxx (HMAC) and 0x03xxxxxx
// (policy); the low 24 bits are one index space shared by both kinds, as in the reference TPM.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { TPM_ALG, TPM_HT, TPM_RC, TPM_SE } from '../wire/constants.js';
import { rcSession } from '../wire/rc.js';
import { digestSize } from '../crypto/hash.js';
import { cfbDecryptParameter, cfbEncryptParameter, xorObfuscate } from '../crypto/parameter-encryption.js';
import { commandHmac, responseHmac, sessionKey } from '../crypto/session-auth.js';
import { fail } from './command.js';
import { HandleJournal } from './handle-journal.js';

export const MAX_ACTIVE_SESSIONS = 64;

export interface SymmetricDef {
  algorithm: number;
  keyBits: number;
  mode: number;
}

/** A policy's constraint on the command it authorizes: PolicyCpHash, PolicyNameHash or PolicyTemplate. */
export interface CommandConstraint {
  kind: 'cpHash' | 'nameHash' | 'templateHash';
  value: Buffer;
}

/** What a policy session has accumulated since it started or was reset (reference SESSION policy fields). */
export interface PolicyState {
  digest: Buffer;
  /** PolicyCommandCode: the only command the session may authorize. */
  commandCode?: number;
  /** pcrUpdateCounter when PolicyPCR ran in a real session: any PCR change since voids it. */
  pcrCounter?: number;
  /** PolicyLocality: the TPMA_LOCALITY byte (0 = no restriction). */
  locality: number;
  constraint?: CommandConstraint;
  /** PolicyNvWritten: the TPMA_NV_WRITTEN state the authorized index must have. */
  nvWritten?: boolean;
  /** TPM time (ms) after which the session no longer authorizes; 0n = no limit. */
  timeout: bigint;
  isPasswordNeeded: boolean;
  isAuthValueNeeded: boolean;
  isPPRequired: boolean;
}

/** The per-command view of one session in the authorization area. */
export interface SessionUse {
  /** 1-based position in the authorization area (for rcSession). */
  index: number;
  nonceCaller: Buffer;
  attributes: number;
  /** The hmac field as the caller sent it. */
  hmac: Buffer;
  /** The entity's authValue joins the HMAC key (reference `includeAuth`). */
  includeAuth: boolean;
  /** The authorized entity's authValue now, trailing zeros removed; empty for sessions authorizing nothing. */
  entityAuth(): Buffer;
}

export const SESSION_ATTR = { continueSession: 0x01, auditExclusive: 0x02, auditReset: 0x04, decrypt: 0x20, encrypt: 0x40, audit: 0x80 } as const;

const EMPTY = Buffer.alloc(0);

export function trimTrailingZeros(b: Buffer): Buffer {
  let n = b.length;
  while (n > 0 && b[n - 1] === 0) n--;
  return b.subarray(0, n);
}

/** The entity a session is bound to (TPM2_StartAuthSession `bind`), captured at start. */
export interface BindEntity {
  name: Buffer;
  authValue: Buffer;
  /** Failed authorizations of the bind entity count toward lockout (not DA-exempt). */
  daProtected: boolean;
  isLockout: boolean;
}

export class Session {
  nonceTPM: Buffer;
  policy: PolicyState;
  /** TPM time (ms) at which the session started or its policy was last reset; expirations count from it. */
  startTime: bigint;
  /** HMAC sessions only: Name and authValue of the bind entity (policy sessions are never bound). */
  readonly boundEntity: { name: Buffer; authValue: Buffer } | null;
  /** Bound to a DA-protected entity: every failure through this session counts (reference isDaBound). */
  readonly isDaBound: boolean;
  readonly isLockoutBound: boolean;

  constructor(
    readonly handle: number,
    readonly type: number,
    readonly hashAlg: number,
    readonly symmetric: SymmetricDef,
    readonly sessionKey: Buffer,
    bind: BindEntity | null,
    nonceTPM: Buffer,
    now: bigint,
  ) {
    this.nonceTPM = nonceTPM;
    this.startTime = now;
    this.policy = Session.freshPolicy(hashAlg);
    this.boundEntity = bind && type === TPM_SE.HMAC ? { name: bind.name, authValue: trimTrailingZeros(bind.authValue) } : null;
    this.isDaBound = !!bind && bind.daProtected;
    this.isLockoutBound = this.isDaBound && !!bind?.isLockout;
  }

  static freshPolicy(hashAlg: number): PolicyState {
    return {
      digest: Buffer.alloc(digestSize(hashAlg)),
      locality: 0,
      timeout: 0n,
      isPasswordNeeded: false,
      isAuthValueNeeded: false,
      isPPRequired: false,
    };
  }

  get isPolicy(): boolean {
    return this.type === TPM_SE.POLICY || this.type === TPM_SE.TRIAL;
  }
  get isTrial(): boolean {
    return this.type === TPM_SE.TRIAL;
  }

  /** Reference SessionResetPolicyData() + SessionSetStartTime(): PolicyRestart, and every use with continueSession. */
  restartPolicy(now: bigint = this.startTime): void {
    this.policy = Session.freshPolicy(this.hashAlg);
    this.startTime = now;
  }

  /** Part 1 §19.6.9: the entity being authorized is the bind entity, with the authValue it had at start. */
  isBoundTo(name: Buffer, authValue: Buffer): boolean {
    const b = this.boundEntity;
    return !!b && b.name.equals(name) && b.authValue.equals(trimTrailingZeros(authValue));
  }

  /** The decrypt/encrypt attributes ask for parameter encryption (StartAuthSession refused NULL with them). */
  decrypts(attributes: number): boolean {
    return (attributes & SESSION_ATTR.decrypt) !== 0 && this.symmetric.algorithm !== TPM_ALG.NULL;
  }
  encrypts(attributes: number): boolean {
    return (attributes & SESSION_ATTR.encrypt) !== 0 && this.symmetric.algorithm !== TPM_ALG.NULL;
  }

  private hmacAuth(use: SessionUse): Buffer {
    return use.includeAuth ? use.entityAuth() : EMPTY;
  }

  /**
   * Part 1 §19.6.5 command HMAC. `extraNonces` are nonceTPMdecrypt/nonceTPMencrypt when they
   * apply. An empty HMAC key with an empty hmac field is a valid (empty) authorization.
   */
  commandHmac(cpHash: Buffer, use: SessionUse, extraNonces: Buffer[]): Buffer {
    const authValue = this.hmacAuth(use);
    if (this.sessionKey.length === 0 && authValue.length === 0 && use.hmac.length === 0) return EMPTY;
    return commandHmac({
      hashAlg: this.hashAlg,
      sessionKey: this.sessionKey,
      authValue,
      cpHash,
      nonceCaller: use.nonceCaller,
      nonceTpm: this.nonceTPM,
      nonceTpmDecrypt: extraNonces[0],
      nonceTpmEncrypt: extraNonces[1],
      sessionAttributes: use.attributes,
    });
  }

  /** Part 1 §19.6.6 response HMAC (after the new nonceTPM is chosen), with the entity's authValue as it is now. */
  responseHmac(rpHash: Buffer, use: SessionUse): Buffer {
    const authValue = this.hmacAuth(use);
    if (this.sessionKey.length === 0 && authValue.length === 0 && use.hmac.length === 0) return EMPTY;
    return responseHmac({
      hashAlg: this.hashAlg,
      sessionKey: this.sessionKey,
      authValue,
      rpHash,
      nonceTpm: this.nonceTPM,
      nonceCaller: use.nonceCaller,
      sessionAttributes: use.attributes,
    });
  }

  checkCommandHmac(expected: Buffer, got: Buffer): boolean {
    return expected.length === got.length && (expected.length === 0 || timingSafeEqual(expected, got));
  }

  rollNonceTpm(): void {
    this.nonceTPM = randomBytes(this.nonceTPM.length);
  }

  /** Part 1 §21: decrypt the data of the first TPM2B command parameter (nonceNewer = nonceCaller). */
  decryptParameter(params: Buffer, use: SessionUse): Buffer {
    return this.cryptFirstTpm2b(params, use, use.nonceCaller, this.nonceTPM, false);
  }

  /** Part 1 §21: encrypt the first TPM2B response parameter (nonceNewer = the new nonceTPM). */
  encryptParameter(params: Buffer, use: SessionUse): Buffer {
    return this.cryptFirstTpm2b(params, use, this.nonceTPM, use.nonceCaller, true);
  }

  /**
   * The key is sessionKey || the authorized entity's authValue, whether or not the session is
   * bound to it (reference ParseSessionBuffer/BuildResponseSession).
   */
  private cryptFirstTpm2b(params: Buffer, use: SessionUse, nonceNewer: Buffer, nonceOlder: Buffer, encrypt: boolean): Buffer {
    if (params.length < 2) fail(rcSession(TPM_RC.SIZE, use.index));
    const size = params.readUInt16BE(0);
    if (size > params.length - 2) fail(rcSession(TPM_RC.SIZE, use.index));
    const data = params.subarray(2, 2 + size);
    const key = Buffer.concat([this.sessionKey, use.entityAuth()]);
    const out = Buffer.from(params);
    const pk = { hashAlg: this.hashAlg, key, nonceNewer, nonceOlder };
    const { algorithm, keyBits } = this.symmetric;
    const transformed =
      algorithm === TPM_ALG.XOR
        ? xorObfuscate(pk, data)
        : encrypt
          ? cfbEncryptParameter(pk, algorithm, keyBits, data)
          : cfbDecryptParameter(pk, algorithm, keyBits, data);
    transformed.copy(out, 2);
    return out;
  }
}

export class SessionTable {
  private readonly sessions = new Map<number, Session>();
  /** Sessions saved by ContextSave: out of the table, their handles reserved until loaded or flushed. */
  private readonly saved = new Map<number, { session: Session; sequence: bigint }>();
  private next = 0;

  /** `journal` records loaded session handles as they come and go (resource-manager contexts). */
  constructor(private readonly journal = new HandleJournal()) {}

  has(h: number): boolean {
    return this.sessions.has(h);
  }

  get(h: number): Session {
    const s = this.sessions.get(h);
    if (!s) fail(TPM_RC.HANDLE);
    return s;
  }

  get size(): number {
    return this.sessions.size;
  }

  /**
   * Part 3 §11.1 TPM2_StartAuthSession, after its parameters have been checked (reference
   * SessionCreate): nonceTPM is as long as nonceCaller; a bound or salted session gets
   * sessionKey = KDFa(authHash, bind.authValue || salt, "ATH", nonceTPM, nonceCaller, digestBits).
   */
  start(opts: {
    type: number;
    hashAlg: number;
    symmetric: SymmetricDef;
    nonceCaller: Buffer;
    salt: Buffer;
    bind: BindEntity | null;
    /** TPM time now (ms), for policy expirations. */
    now?: bigint;
  }): Session {
    // Loaded and saved sessions share the MAX_ACTIVE_SESSIONS handle indices (0x02/0x03 || index):
    // handles stay inside TPMI_SH_AUTH_SESSION's ranges.
    if (this.sessions.size + this.saved.size >= MAX_ACTIVE_SESSIONS) fail(TPM_RC.SESSION_HANDLES);
    const ht = opts.type === TPM_SE.HMAC ? TPM_HT.HMAC_SESSION : TPM_HT.POLICY_SESSION;
    let handle: number;
    do {
      this.next = (this.next + 1) % MAX_ACTIVE_SESSIONS;
      handle = ((ht << 24) | this.next) >>> 0;
    } while ([handle, (((ht ^ 1) << 24) | this.next) >>> 0].some((h) => this.sessions.has(h) || this.saved.has(h)));
    const nonceTPM = randomBytes(opts.nonceCaller.length);
    const key = sessionKey({
      hashAlg: opts.hashAlg,
      bindAuth: opts.bind ? trimTrailingZeros(opts.bind.authValue) : EMPTY,
      salt: opts.salt,
      nonceTpm: nonceTPM,
      nonceCaller: opts.nonceCaller,
      bound: !!opts.bind,
    });
    const s = new Session(handle, opts.type, opts.hashAlg, opts.symmetric, key, opts.bind, nonceTPM, opts.now ?? 0n);
    this.sessions.set(handle, s);
    this.journal.added.push(handle);
    return s;
  }

  flush(h: number): void {
    if (this.sessions.delete(h)) this.journal.removed.push(h);
  }

  handles(): number[] {
    return [...this.sessions.keys()].sort((a, b) => a - b);
  }

  clear(): void {
    this.journal.removed.push(...this.sessions.keys());
    this.sessions.clear();
  }

  /** ContextSave/ContextLoad move a session out of and back into the table. */
  detach(h: number): Session {
    const s = this.get(h);
    this.sessions.delete(h);
    this.journal.removed.push(h);
    return s;
  }
  attach(s: Session): void {
    if (this.sessions.has(s.handle)) fail(TPM_RC.SESSION_HANDLES);
    this.sessions.set(s.handle, s);
    this.journal.added.push(s.handle);
  }

  /** TPM2_ContextSave of a session (Part 1 §30.3): detach it and keep its handle for one ContextLoad. */
  save(h: number, sequence: bigint): void {
    this.saved.set(h, { session: this.detach(h), sequence });
  }
  isSaved(h: number): boolean {
    return this.saved.has(h);
  }
  /** Handles of saved sessions, ascending (GetCapability TPM_HT_SAVED_SESSION). */
  savedHandles(): number[] {
    return [...this.saved.keys()].sort((a, b) => a - b);
  }
  /** TPM2_ContextLoad of a session: only the latest save of a saved session loads, and only once. */
  restore(h: number, sequence: bigint): Session | null {
    const entry = this.saved.get(h);
    if (!entry || entry.sequence !== sequence) return null;
    this.saved.delete(h);
    this.attach(entry.session);
    return entry.session;
  }
  /** TPM2_FlushContext of a saved session, or a TPM Reset (all saved contexts die). */
  flushSaved(h?: number): void {
    if (h === undefined) this.saved.clear();
    else this.saved.delete(h);
  }
}
