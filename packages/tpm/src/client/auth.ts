// Client-side authorization: what goes into a command's authorization area and how a response's
// is checked. A password is sent in the clear (TPM_RS_PW); an HMAC or policy session computes
// the Part 1 §19.6 HMACs with the same functions the engine uses.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { TPM_RS_PW, TPM_SE } from '../wire/constants.js';
import { digest, digestSize, hmac } from '../crypto/hash.js';
import { kdfa } from '../crypto/kdf.js';
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

/** An HMAC or policy session started by TPM2_StartAuthSession, as the caller tracks it. */
export class ClientSession implements CommandAuthorization {
  nonceTPM: Buffer;
  private nonceCaller: Buffer;
  private lastAuth: Buffer = Buffer.alloc(0);
  /** Set after PolicyAuthValue; PolicyPassword sends the auth value in the clear instead. */
  includeAuthValue: boolean;
  passwordInClear = false;
  attributes = CONTINUE_SESSION;

  constructor(
    readonly handle: number,
    readonly type: number,
    readonly hashAlg: number,
    nonceCaller: Buffer,
    nonceTPM: Buffer,
    readonly sessionKey: Buffer,
    readonly bound: { name: Buffer; authValue: Buffer } | null = null,
  ) {
    this.nonceCaller = nonceCaller;
    this.nonceTPM = nonceTPM;
    this.includeAuthValue = type === TPM_SE.HMAC;
  }

  /** Derive the session key as the TPM does (Part 1 §19.6.8). */
  static keyFor(hashAlg: number, bindAuth: Buffer, salt: Buffer, nonceTPM: Buffer, nonceCaller: Buffer): Buffer {
    const input = Buffer.concat([trim(bindAuth), salt]);
    return input.length === 0 ? Buffer.alloc(0) : kdfa(hashAlg, input, 'ATH', nonceTPM, nonceCaller, digestSize(hashAlg) * 8);
  }

  authorize(cpHashFor: (hashAlg: number) => Buffer, entityAuth: Buffer, entityName: Buffer | undefined) {
    this.nonceCaller = randomBytes(digestSize(this.hashAlg));
    if (this.passwordInClear) {
      this.lastAuth = entityAuth;
      return { nonce: this.nonceCaller, attributes: this.attributes, hmac: trim(entityAuth) };
    }
    const boundHere =
      this.type === TPM_SE.HMAC && !!this.bound && !!entityName && this.bound.name.equals(entityName) && trim(this.bound.authValue).equals(trim(entityAuth));
    this.lastAuth = this.includeAuthValue && !boundHere ? entityAuth : Buffer.alloc(0);
    const key = Buffer.concat([this.sessionKey, trim(this.lastAuth)]);
    const mac = hmac(this.hashAlg, key, cpHashFor(this.hashAlg), this.nonceCaller, this.nonceTPM, Buffer.of(this.attributes));
    return { nonce: this.nonceCaller, attributes: this.attributes, hmac: mac };
  }

  verify(rpHashFor: (hashAlg: number) => Buffer, nonceTPM: Buffer, attributes: number, mac: Buffer): void {
    this.nonceTPM = nonceTPM;
    if (this.passwordInClear) return;
    const key = Buffer.concat([this.sessionKey, trim(this.lastAuth)]);
    const expected = hmac(this.hashAlg, key, rpHashFor(this.hashAlg), nonceTPM, this.nonceCaller, Buffer.of(attributes));
    if (expected.length !== mac.length || !timingSafeEqual(expected, mac)) {
      throw new TpmError(0, 'response HMAC does not verify: the response was not produced by the TPM this session was started with');
    }
  }
}

export { digest };
