// Client-side authorization: what goes into a command's authorization area and how a response's
// is checked. A password is sent in the clear (TPM_RS_PW); an HMAC or policy session computes
// the Part 1 §19.6 HMACs with the same crypto functions the engine uses, and follows the same
// rules: trailing zeros of an authValue do not count, a session bound to the entity it
// authorizes leaves the authValue out, a policy session includes it only after
// PolicyAuthValue, and after PolicyPassword the authValue goes in the clear.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { TPM_ALG, TPM_RH, TPM_RS_PW, TPM_SE } from '../wire/constants.js';
import { digest, digestSize } from '../crypto/hash.js';
import { cfbDecryptParameter, cfbEncryptParameter, xorObfuscate } from '../crypto/parameter-encryption.js';
import { commandHmac, responseHmac, sessionKey } from '../crypto/session-auth.js';
import { TpmError } from '../wire/rc.js';

export interface CommandAuthorization {
  readonly handle: number;
  /** The TPMS_AUTH_COMMAND for this command. */
  authorize(cpHashFor: (hashAlg: number) => Buffer, entityAuth: Buffer, entityName: Buffer | undefined): {
    nonce: Buffer;
    attributes: number;
    hmac: Buffer;
  };
  /** Check the TPMS_AUTH_RESPONSE; throws if the TPM's HMAC is wrong. */
  verify(rpHashFor: (hashAlg: number) => Buffer, nonceTPM: Buffer, attributes: number, mac: Buffer): void;
}

function trim(b: Buffer): Buffer {
  let n = b.length;
  while (n > 0 && b[n - 1] === 0) n--;
  return b.subarray(0, n);
}

const EMPTY = Buffer.alloc(0);

/** The password session: the authValue in the hmac field. */
export function password(authValue: Buffer | string = Buffer.alloc(0)): CommandAuthorization {
  const value = typeof authValue === 'string' ? Buffer.from(authValue) : authValue;
  return {
    handle: TPM_RS_PW,
    authorize: () => ({ nonce: Buffer.alloc(0), attributes: 0x01, hmac: value }),
    verify: () => {},
  };
}

export const CONTINUE_SESSION = 0x01;
export const DECRYPT = 0x20;
export const ENCRYPT = 0x40;

/** The session's parameter-encryption algorithm (TPMT_SYM_DEF of StartAuthSession). */
export interface SessionSymmetric {
  algorithm: number;
  keyBits: number | null;
  mode: number | null;
}

/** An HMAC or policy session started by TPM2_StartAuthSession, as the caller tracks it. */
export class ClientSession implements CommandAuthorization {
  nonceTPM: Buffer;
  private nonceCaller: Buffer;
  /** The HMAC key of the last command: sessionKey || authValue (when included). */
  private lastKey: Buffer = Buffer.alloc(0);
  private lastHmacEmpty = false;
  /** Set after PolicyAuthValue (policy sessions): the authValue joins the HMAC key. */
  includeAuthValue: boolean;
  /** Set after PolicyPassword: the authValue goes in the clear, the response carries no HMAC. */
  passwordInClear = false;
  attributes = CONTINUE_SESSION;
  /**
   * nonceTPM of another session used for parameter decryption/encryption in the same command;
   * the first session's HMAC includes them (Part 1 §19.6.5). Set per command by the caller.
   */
  extraNonces: Buffer[] = [];
  /** Parameter encryption with DECRYPT/ENCRYPT in `attributes` (Part 1 §21); NULL = none. */
  symmetric: SessionSymmetric = { algorithm: TPM_ALG.NULL, keyBits: null, mode: null };
  private begun = false;
  private authIncluded = false;
  private passwordInClearUsed = false;
  /**
   * Set before a command that changes the authorized entity's authValue (HierarchyChangeAuth,
   * NV_ChangeAuth): the TPM keys that response's HMAC with the new value. Cleared after use.
   */
  responseAuth: Buffer | undefined;

  constructor(
    readonly handle: number,
    readonly type: number,
    readonly hashAlg: number,
    nonceCaller: Buffer,
    nonceTPM: Buffer,
    readonly sessionKey: Buffer,
    /** The bind entity's Name and authValue (HMAC sessions; policy sessions are never bound). */
    readonly bound: { name: Buffer; authValue: Buffer } | null = null,
  ) {
    this.nonceCaller = nonceCaller;
    this.nonceTPM = nonceTPM;
    this.includeAuthValue = type === TPM_SE.HMAC;
  }

  /**
   * Derive the session key as the TPM does (Part 1 §19.6.8, reference SessionCreate): a bound
   * or salted session has one even when the bind authValue and salt are both empty.
   */
  static keyFor(hashAlg: number, bindAuth: Buffer, salt: Buffer, nonceTPM: Buffer, nonceCaller: Buffer, bound = bindAuth.length > 0): Buffer {
    return sessionKey({ hashAlg, bindAuth: trim(bindAuth), salt, nonceTpm: nonceTPM, nonceCaller, bound });
  }

  /**
   * The session as StartAuthSession left it. `bind` is the bind entity (omit or TPM_RH_NULL for
   * none); `salt` the plain salt the caller encrypted to tpmKey.
   */
  static started(
    start: { handle: number; type: number; hashAlg: number; nonceCaller: Buffer; nonceTPM: Buffer },
    opts: { bind?: { handle: number; name: Buffer; authValue: Buffer }; salt?: Buffer; symmetric?: SessionSymmetric } = {},
  ): ClientSession {
    const bind = opts.bind && opts.bind.handle !== TPM_RH.NULL ? opts.bind : undefined;
    const key = ClientSession.keyFor(start.hashAlg, bind?.authValue ?? EMPTY, opts.salt ?? EMPTY, start.nonceTPM, start.nonceCaller, !!bind);
    const bound = bind && start.type === TPM_SE.HMAC ? { name: bind.name, authValue: bind.authValue } : null;
    const session = new ClientSession(start.handle, start.type, start.hashAlg, start.nonceCaller, start.nonceTPM, key, bound);
    if (opts.symmetric) session.symmetric = opts.symmetric;
    return session;
  }

  /** A fresh nonceCaller for StartAuthSession: the session hash's digest size. */
  static newNonce(hashAlg: number): Buffer {
    return randomBytes(digestSize(hashAlg));
  }

  /** A new command: a fresh nonceCaller (before parameter encryption, which uses it). */
  begin(): void {
    this.nonceCaller = randomBytes(this.nonceTPM.length);
    this.begun = true;
  }

  get decrypts(): boolean {
    return (this.attributes & DECRYPT) !== 0 && this.symmetric.algorithm !== TPM_ALG.NULL;
  }
  get encrypts(): boolean {
    return (this.attributes & ENCRYPT) !== 0 && this.symmetric.algorithm !== TPM_ALG.NULL;
  }

  /**
   * Encrypt the first TPM2B of a command's parameters, or decrypt a response's (Part 1 §21),
   * keyed with sessionKey || the authorized entity's authValue (bound or not, as the TPM does).
   */
  cryptParameter(params: Buffer, entityAuth: Buffer, direction: 'command' | 'response'): Buffer {
    if (params.length < 2) return params;
    const size = Math.min(params.readUInt16BE(0), params.length - 2);
    const data = params.subarray(2, 2 + size);
    const command = direction === 'command';
    const pk = {
      hashAlg: this.hashAlg,
      key: Buffer.concat([this.sessionKey, trim(entityAuth)]),
      nonceNewer: command ? this.nonceCaller : this.nonceTPM,
      nonceOlder: command ? this.nonceTPM : this.nonceCaller,
    };
    const { algorithm, keyBits } = this.symmetric;
    const out = Buffer.from(params);
    const transformed =
      algorithm === TPM_ALG.XOR
        ? xorObfuscate(pk, data)
        : command
          ? cfbEncryptParameter(pk, algorithm, keyBits ?? 0, data)
          : cfbDecryptParameter(pk, algorithm, keyBits ?? 0, data);
    transformed.copy(out, 2);
    return out;
  }

  authorize(cpHashFor: (hashAlg: number) => Buffer, entityAuth: Buffer, entityName: Buffer | undefined) {
    if (!this.begun) this.begin();
    this.begun = false;
    this.passwordInClearUsed = this.passwordInClear;
    if (this.passwordInClear) {
      this.lastHmacEmpty = true;
      return { nonce: this.nonceCaller, attributes: this.attributes, hmac: trim(entityAuth) };
    }
    const boundHere = !!this.bound && !!entityName && this.bound.name.equals(entityName) && trim(this.bound.authValue).equals(trim(entityAuth));
    this.authIncluded = this.includeAuthValue && !boundHere;
    const authValue = this.authIncluded ? trim(entityAuth) : EMPTY;
    this.lastKey = Buffer.concat([this.sessionKey, authValue]);
    // With no key at all, an empty HMAC is a valid authorization (and the response's is empty too).
    this.lastHmacEmpty = this.lastKey.length === 0;
    if (this.lastHmacEmpty) return { nonce: this.nonceCaller, attributes: this.attributes, hmac: EMPTY };
    const mac = commandHmac({
      hashAlg: this.hashAlg,
      sessionKey: this.sessionKey,
      authValue,
      cpHash: cpHashFor(this.hashAlg),
      nonceCaller: this.nonceCaller,
      nonceTpm: this.nonceTPM,
      nonceTpmDecrypt: this.extraNonces[0],
      nonceTpmEncrypt: this.extraNonces[1],
      sessionAttributes: this.attributes,
    });
    return { nonce: this.nonceCaller, attributes: this.attributes, hmac: mac };
  }

  verify(rpHashFor: (hashAlg: number) => Buffer, nonceTPM: Buffer, attributes: number, mac: Buffer): void {
    this.nonceTPM = nonceTPM;
    if ((attributes & CONTINUE_SESSION) !== 0 && this.type !== TPM_SE.HMAC) {
      // The TPM resets a policy session after each use (reference UpdateInternalSession).
      this.includeAuthValue = false;
      this.passwordInClear = false;
    }
    const newAuth = this.responseAuth;
    this.responseAuth = undefined;
    if (this.passwordInClearUsed) {
      if (mac.length !== 0) throw new TpmError(0, 'response HMAC present after PolicyPassword');
      return;
    }
    const authValue = this.authIncluded && newAuth !== undefined ? trim(newAuth) : this.lastKey.subarray(this.sessionKey.length);
    // With no key and an empty command HMAC, the TPM answers with an empty HMAC too.
    if (this.sessionKey.length === 0 && authValue.length === 0 && this.lastHmacEmpty) {
      if (mac.length !== 0) throw new TpmError(0, 'response HMAC present where none was expected');
      return;
    }
    const expected = responseHmac({
      hashAlg: this.hashAlg,
      sessionKey: this.sessionKey,
      authValue,
      rpHash: rpHashFor(this.hashAlg),
      nonceTpm: nonceTPM,
      nonceCaller: this.nonceCaller,
      sessionAttributes: attributes,
    });
    if (expected.length !== mac.length || !timingSafeEqual(expected, mac)) {
      throw new TpmError(0, 'response HMAC does not verify: the response was not produced by the TPM this session was started with');
    }
  }
}

/**
 * Before a command's authorization area is built: fresh nonces, the first TPM2B parameter
 * encrypted by the session with DECRYPT, and the nonceTPMs of decrypt/encrypt sessions other
 * than the first, which an authorizing first session's HMAC includes (Part 1 §19.6.5, §21).
 */
export function prepareCommand(sessions: readonly CommandAuthorization[], authCount: number, entityAuthAt: (i: number) => Buffer, params: Buffer): Buffer {
  const cs = sessions.map((s) => (s instanceof ClientSession ? s : null));
  for (const s of cs) s?.begin();
  const dec = cs.findIndex((s) => !!s?.decrypts);
  const enc = cs.findIndex((s) => !!s?.encrypts);
  if (cs[0]) cs[0].extraNonces = authCount > 0 ? [dec > 0 ? cs[dec]!.nonceTPM : EMPTY, enc > 0 && enc !== dec ? cs[enc]!.nonceTPM : EMPTY] : [];
  return dec >= 0 ? cs[dec]!.cryptParameter(params, entityAuthAt(dec), 'command') : params;
}

/** After the response sessions verified (new nonceTPMs known): decrypt the first TPM2B response parameter. */
export function decryptResponse(sessions: readonly CommandAuthorization[], entityAuthAt: (i: number) => Buffer, params: Buffer): Buffer {
  const enc = sessions.findIndex((s) => s instanceof ClientSession && s.encrypts);
  return enc >= 0 ? (sessions[enc] as ClientSession).cryptParameter(params, entityAuthAt(enc), 'response') : params;
}

export { digest };
