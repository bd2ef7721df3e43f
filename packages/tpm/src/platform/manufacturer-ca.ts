// The emulated TPM manufacturer's root CA: generated once per installation, it signs the EK
// certificates the platform layer stores in the TPM's NV (endorsement.ts). A real TPM's EK
// certificate chains to its vendor's CA; ours chains to this one, whose certificate a verifier
// adds to its trust store. The private key stays inside the instance (a private field); it
// leaves only through exportState(), for the caller to keep as a secret.

import { createPrivateKey, createPublicKey, generateKeyPair, randomBytes, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import {
  AT,
  KEY_USAGE,
  NO_EXPIRATION,
  authorityKeyIdentifier,
  basicConstraints,
  children,
  explicit,
  keyIdentifier,
  keyUsage,
  name,
  printable,
  randomSerial,
  readElement,
  seq,
  signCertificate,
  signatureAlgorithmFor,
  subjectKeyIdentifier,
  toPem,
  uint,
  utf8,
  validity,
  type SignatureAlgorithm,
} from './asn1.js';
import { ekTbsCertificate, type EkCertificateFields, type EkIssuer } from './ek-certificate.js';
import { akTbsCertificate, type AkCertificateFields } from './ak-certificate.js';

const generate = promisify(generateKeyPair);

export type CaKeyType = 'ecP384' | 'rsa3072';

export interface ManufacturerCaOptions {
  /** ECDSA P-384 (the default) or RSA 3072; certificates are signed with SHA-384. */
  keyType?: CaKeyType;
  subject?: { country: string; organization: string; commonName: string };
  /** Defaults to now. */
  notBefore?: Date;
}

export const DEFAULT_CA_SUBJECT = {
  country: 'US',
  organization: 'Sealkeep Emulated TPM Manufacturer',
  commonName: 'Sealkeep EK Root CA',
} as const;

/** What the caller stores to bring the same CA back: the private key is a secret. */
export interface ManufacturerCaState {
  version: 1;
  /** PKCS#8 PrivateKeyInfo, DER, base64. */
  privateKey: string;
  /** The CA certificate, DER, base64. */
  certificate: string;
}

/** An issued certificate, DER and PEM. */
export interface IssuedCertificate {
  der: Buffer;
  pem: string;
}

/** Everything an EK certificate carries except what the CA supplies; serial and validity default. */
export type EkCertificateRequest = Omit<EkCertificateFields, 'serialNumber' | 'notBefore' | 'notAfter'> &
  Partial<Pick<EkCertificateFields, 'serialNumber' | 'notBefore' | 'notAfter'>>;

export type AkCertificateRequest = Omit<AkCertificateFields, 'serialNumber' | 'notBefore' | 'notAfter'> &
  Partial<Pick<AkCertificateFields, 'serialNumber' | 'notBefore' | 'notAfter'>>;

/** Certificates carry whole seconds. */
const wholeSeconds = (d: Date) => new Date(Math.floor(d.getTime() / 1000) * 1000);

/**
 * The self-signed root's TBSCertificate (RFC 5280 §4.1): v3, a random serial, no expiration,
 * basicConstraints cA TRUE and keyUsage keyCertSign|cRLSign (both critical), subject and
 * authority key identifiers (the same value: the key signs itself).
 */
function rootTbs(key: KeyObject, alg: SignatureAlgorithm, subject: Buffer, notBefore: Date): Buffer {
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const keyId = keyIdentifier(spki);
  const extensions = [
    basicConstraints({ cA: true }),
    keyUsage(KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign),
    subjectKeyIdentifier(keyId),
    authorityKeyIdentifier(keyId),
  ];
  return seq(
    explicit(0, uint(2)),
    uint(randomSerial(randomBytes)),
    alg.identifier,
    subject,
    validity(notBefore, NO_EXPIRATION),
    subject,
    spki,
    explicit(3, seq(...extensions)),
  );
}

/** The fields of a CA certificate this class needs back: subject Name, SPKI, key identifier. */
function readCaCertificate(der: Buffer): { subject: Buffer; spki: Buffer; keyId: Buffer } {
  const [tbs] = children(der);
  // version, serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, ...
  const f = children(tbs!);
  if (f.length < 7 || f[0]!.tag !== 0xa0) throw new RangeError('CA certificate: not an X.509 v3 TBSCertificate');
  const subject = f[5]!.der;
  const spki = f[6]!.der;
  return { subject: Buffer.from(subject), spki: Buffer.from(spki), keyId: keyIdentifier(spki) };
}

export class ManufacturerCa {
  /** The CA's signing key; never exported except by exportState(). */
  readonly #key: KeyObject;
  readonly #alg: SignatureAlgorithm;
  /** The CA certificate, DER. */
  readonly certificate: Buffer;
  /** The CA's subject Name, DER: the issuer of every certificate it signs. */
  readonly subject: Buffer;
  /** The CA's subjectKeyIdentifier: the authorityKeyIdentifier of what it signs. */
  readonly keyIdentifier: Buffer;

  private constructor(key: KeyObject, certificate: Buffer) {
    const { subject, spki, keyId } = readCaCertificate(certificate);
    if (!createPublicKey(key).export({ type: 'spki', format: 'der' }).equals(spki)) {
      throw new RangeError('the CA private key does not match the CA certificate');
    }
    this.#key = key;
    this.#alg = signatureAlgorithmFor(key);
    this.certificate = certificate;
    this.subject = subject;
    this.keyIdentifier = keyId;
  }

  /** Generate a new root key and its self-signed certificate. */
  static async create(options: ManufacturerCaOptions = {}): Promise<ManufacturerCa> {
    const { privateKey } =
      (options.keyType ?? 'ecP384') === 'ecP384'
        ? await generate('ec', { namedCurve: 'P-384' })
        : await generate('rsa', { modulusLength: 3072, publicExponent: 0x10001 });
    const s = options.subject ?? DEFAULT_CA_SUBJECT;
    const subject = name([
      [AT.countryName, printable(s.country)],
      [AT.organizationName, utf8(s.organization)],
      [AT.commonName, utf8(s.commonName)],
    ]);
    const alg = signatureAlgorithmFor(privateKey);
    const tbs = rootTbs(privateKey, alg, subject, wholeSeconds(options.notBefore ?? new Date()));
    return new ManufacturerCa(privateKey, signCertificate(tbs, alg, privateKey));
  }

  /** Bring back a CA from exportState(); the key must match the certificate. */
  static fromState(state: ManufacturerCaState): ManufacturerCa {
    if (state.version !== 1) throw new RangeError(`unknown manufacturer CA state version ${String(state.version)}`);
    const key = createPrivateKey({ key: Buffer.from(state.privateKey, 'base64'), format: 'der', type: 'pkcs8' });
    const certificate = Buffer.from(state.certificate, 'base64');
    readElement(certificate); // a DER element at least
    return new ManufacturerCa(key, certificate);
  }

  /** The state to persist; `privateKey` is the CA's secret (store it encrypted, never log it). */
  exportState(): ManufacturerCaState {
    return {
      version: 1,
      privateKey: this.#key.export({ type: 'pkcs8', format: 'der' }).toString('base64'),
      certificate: this.certificate.toString('base64'),
    };
  }

  /** The CA certificate, PEM: what a verifier trusts. */
  toPem(): string {
    return toPem('CERTIFICATE', this.certificate);
  }

  /** Issue an attestation key's certificate beside the EK certificate of the same TPM (ak-certificate.ts). */
  issueAkCertificate(request: AkCertificateRequest): IssuedCertificate {
    return this.#issue(request, akTbsCertificate);
  }

  /** Issue an EK certificate (TCG EK Credential Profile) for the given EK public key. */
  issueEkCertificate(request: EkCertificateRequest): IssuedCertificate {
    return this.#issue(request, ekTbsCertificate);
  }

  /** Fill in serial and validity, build the TBSCertificate as `tbsOf` does, and sign it. */
  #issue<F extends { serialNumber: Buffer; notBefore: Date; notAfter: Date }>(
    request: Omit<F, 'serialNumber' | 'notBefore' | 'notAfter'> & Partial<Pick<F, 'serialNumber' | 'notBefore' | 'notAfter'>>,
    tbsOf: (fields: F, issuer: EkIssuer) => Buffer,
  ): IssuedCertificate {
    const fields = {
      ...request,
      serialNumber: request.serialNumber ?? randomSerial(randomBytes),
      notBefore: wholeSeconds(request.notBefore ?? new Date()),
      notAfter: wholeSeconds(request.notAfter ?? NO_EXPIRATION),
    } as F;
    const der = signCertificate(tbsOf(fields, { subject: this.subject, keyIdentifier: this.keyIdentifier, signatureAlgorithm: this.#alg }), this.#alg, this.#key);
    return { der, pem: toPem('CERTIFICATE', der) };
  }
}
