// Authorization sessions (Part 1 §19): the session table, each session's nonces and key, the
// command/response HMACs of §19.6, parameter encryption (§21), and the policy state a policy
// session accumulates (Part 3 §23). Session handles are 0x02xxxxxx (HMAC) and 0x03xxxxxx (policy).

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { TPM_ALG, TPM_HT, TPM_RC, TPM_SE } from '../wire/constants.js';
import { MAX_ACTIVE_SESSIONS } from '../wire/limits.js';
import { digestSize, hmac } from '../crypto/hash.js';
import { kdfa } from '../crypto/kdf.js';
import { cfbDecryptParameter, cfbEncryptParameter, xorObfuscate } from '../crypto/parameter-encryption.js';
import { fail } from './command.js';


export interface SymmetricDef {
  algorithm: number;
  keyBits: number;
  mode: number;
}

/** What a policy session has accumulated since it started or was restarted. */
export interface PolicyState {
  digest: Buffer;
  commandCode?: number;
  /** pcrUpdateCounter when PolicyPCR ran: any PCR change since voids the session. */
  pcrCounter?: number;
  locality?: number;
  cpHash?: Buffer;
  nameHash?: Buffer;
  isPasswordNeeded: boolean;
  isAuthValueNeeded: boolean;
}

/** The per-command view of one session in the authorization area. */
export interface SessionUse {
  index: number;
  nonceCaller: Buffer;
  attributes: number;
  /** Authorization value used in HMACs for this command ('' when bound to the entity). */
  authValue: Buffer;
}

export const SESSION_ATTR = { continueSession: 0x01, auditExclusive: 0x02, auditReset: 0x04, decrypt: 0x20, encrypt: 0x40, audit: 0x80 } as const;

export function trimTrailingZeros(b: Buffer): Buffer {
  let n = b.length;
  while (n > 0 && b[n - 1] === 0) n--;
  return b.subarray(0, n);
}

export class Session {
  nonceTPM: Buffer;
  policy: PolicyState;
  /** Set once the session has been used in a command (a bound session's binding then applies). */
  constructor(
    readonly handle: number,
    readonly type: number,
    readonly hashAlg: number,
    readonly symmetric: SymmetricDef,
    readonly sessionKey: Buffer,
    /** Name of the bind entity and its authValue at start, for the "bound to this entity" rule. */
    readonly bind: { name: Buffer; authValue: Buffer } | null,
    nonceTPM: Buffer,
  ) {
    this.nonceTPM = nonceTPM;
    this.policy = Session.freshPolicy(hashAlg);
  }

  static freshPolicy(hashAlg: number): PolicyState {
    return { digest: Buffer.alloc(digestSize(hashAlg)), isPasswordNeeded: false, isAuthValueNeeded: false };
  }

  get isPolicy(): boolean {
    return this.type === TPM_SE.POLICY || this.type === TPM_SE.TRIAL;
  }
  get isTrial(): boolean {
    return this.type === TPM_SE.TRIAL;
  }

  restartPolicy(): void {
    this.policy = Session.freshPolicy(this.hashAlg);
  }

  /** Part 1 §19.6.4.3: bound to `name` with the same authValue it had at start. */
  isBoundTo(name: Buffer, authValue: Buffer): boolean {
    return !!this.bind && this.bind.name.equals(name) && trimTrailingZeros(this.bind.authValue).equals(trimTrailingZeros(authValue));
  }

  decrypts(attributes: number): boolean {
    return (attributes & SESSION_ATTR.decrypt) !== 0 && this.symmetric.algorithm !== TPM_ALG.NULL;
  }
  encrypts(attributes: number): boolean {
    return (attributes & SESSION_ATTR.encrypt) !== 0 && this.symmetric.algorithm !== TPM_ALG.NULL;
  }

  private hmacKey(authValue: Buffer): Buffer {
    return Buffer.concat([this.sessionKey, trimTrailingZeros(authValue)]);
  }

  /** Part 1 §19.6.5 command HMAC. `extraNonces` are nonceTPMdecrypt/nonceTPMencrypt when they apply. */
  commandHmac(cpHash: Buffer, use: SessionUse, extraNonces: Buffer[]): Buffer {
    return hmac(this.hashAlg, this.hmacKey(use.authValue), cpHash, use.nonceCaller, this.nonceTPM, ...extraNonces, Buffer.of(use.attributes));
  }

  /** Part 1 §19.6.6 response HMAC (after the new nonceTPM is chosen). */
  responseHmac(rpHash: Buffer, use: SessionUse): Buffer {
    return hmac(this.hashAlg, this.hmacKey(use.authValue), rpHash, this.nonceTPM, use.nonceCaller, Buffer.of(use.attributes));
  }

  checkCommandHmac(expected: Buffer, got: Buffer): boolean {
    return expected.length === got.length && timingSafeEqual(expected, got);
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

  private cryptFirstTpm2b(params: Buffer, use: SessionUse, nonceNewer: Buffer, nonceOlder: Buffer, encrypt: boolean): Buffer {
    if (params.length < 2) fail(TPM_RC.SIZE);
    const size = params.readUInt16BE(0);
    if (size > params.length - 2) fail(TPM_RC.SIZE);
    const data = params.subarray(2, 2 + size);
    const key = this.hmacKey(use.authValue);
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

  /** Part 3 §11.1 TPM2_StartAuthSession, after its parameters have been checked. */
  start(opts: {
    type: number;
    hashAlg: number;
    symmetric: SymmetricDef;
    nonceCaller: Buffer;
    salt: Buffer;
    bind: { name: Buffer; authValue: Buffer } | null;
  }): Session {
    if (this.sessions.size >= MAX_ACTIVE_SESSIONS) fail(TPM_RC.SESSION_HANDLES);
    const ht = opts.type === TPM_SE.HMAC ? TPM_HT.HMAC_SESSION : TPM_HT.POLICY_SESSION;
    // The lowest free slot; HMAC and policy sessions share the slot numbers (Part 1 §15.4).
    let slot = 0;
    while (this.sessions.has(((TPM_HT.HMAC_SESSION << 24) | slot) >>> 0) || this.sessions.has(((TPM_HT.POLICY_SESSION << 24) | slot) >>> 0)) slot++;
    const handle = ((ht << 24) | slot) >>> 0;
    const nonceTPM = randomBytes(digestSize(opts.hashAlg));
    const bindAuth = opts.bind ? trimTrailingZeros(opts.bind.authValue) : Buffer.alloc(0);
    const keyInput = Buffer.concat([bindAuth, opts.salt]);
    const sessionKey =
      keyInput.length === 0
        ? Buffer.alloc(0)
        : kdfa(opts.hashAlg, keyInput, 'ATH', nonceTPM, opts.nonceCaller, digestSize(opts.hashAlg) * 8);
    const s = new Session(handle, opts.type, opts.hashAlg, opts.symmetric, sessionKey, opts.bind, nonceTPM);
    this.sessions.set(handle, s);
    return s;
  }

  flush(h: number): void {
    this.sessions.delete(h);
  }

  handles(): number[] {
    return [...this.sessions.keys()].sort((a, b) => a - b);
  }

  clear(): void {
    this.sessions.clear();
  }

  /** ContextSave/ContextLoad move a session out of and back into the table. */
  detach(h: number): Session {
    const s = this.get(h);
    this.sessions.delete(h);
    return s;
  }
  attach(s: Session): void {
    if (this.sessions.has(s.handle)) fail(TPM_RC.SESSION_HANDLES);
    this.sessions.set(s.handle, s);
  }
}
