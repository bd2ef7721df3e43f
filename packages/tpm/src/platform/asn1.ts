// DER (X.690) encoding of the few ASN.1 types an X.509 certificate needs, a reader that walks
// DER back into tag/contents pairs, and the RFC 5280 pieces every certificate shares: Name,
// AlgorithmIdentifier, Extension, Validity and the signed Certificate envelope. Values are
// Buffers of complete DER; nothing here holds key material.

import { createHash, sign, type KeyObject } from 'node:crypto';

/** Universal and context tags used here (X.680 §8.4). */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8String: 0x0c,
  PrintableString: 0x13,
  IA5String: 0x16,
  UTCTime: 0x17,
  GeneralizedTime: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

function lengthOctets(n: number): Buffer {
  if (n < 0x80) return Buffer.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV: the identifier octet, the definite length, the contents. */
export function tlv(tag: number, ...contents: Uint8Array[]): Buffer {
  const body = Buffer.concat(contents);
  return Buffer.concat([Buffer.of(tag), lengthOctets(body.length), body]);
}

export const seq = (...items: Uint8Array[]): Buffer => tlv(TAG.SEQUENCE, ...items);

/** SET OF: DER orders the elements by their encodings (X.690 §11.6). */
export const setOf = (...items: Buffer[]): Buffer => tlv(TAG.SET, ...[...items].sort(Buffer.compare));

/** [n] EXPLICIT: a constructed context-specific wrapper. */
export const explicit = (n: number, ...items: Uint8Array[]): Buffer => tlv(0xa0 | n, ...items);

/** [n] IMPLICIT of a primitive type (e.g. a KeyIdentifier OCTET STRING). */
export const implicitPrimitive = (n: number, contents: Uint8Array): Buffer => tlv(0x80 | n, contents);

export const bool = (v: boolean): Buffer => tlv(TAG.BOOLEAN, Buffer.of(v ? 0xff : 0x00));
export const nullValue = (): Buffer => tlv(TAG.NULL);
export const octetString = (b: Uint8Array): Buffer => tlv(TAG.OCTET_STRING, b);
export const utf8 = (s: string): Buffer => tlv(TAG.UTF8String, Buffer.from(s, 'utf8'));
export const printable = (s: string): Buffer => {
  if (!/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(s)) throw new RangeError(`not a PrintableString: ${JSON.stringify(s)}`);
  return tlv(TAG.PrintableString, Buffer.from(s, 'ascii'));
};

/** A BIT STRING of whole octets (a key, a signature). */
export const bitString = (b: Uint8Array): Buffer => tlv(TAG.BIT_STRING, Buffer.of(0), b);

/**
 * A named-bit BIT STRING (e.g. KeyUsage) from the numbers of the bits set; bit 0 is the most
 * significant bit of the first octet, and DER drops trailing zero bits (X.690 §11.2.2).
 */
export function namedBits(bits: readonly number[]): Buffer {
  if (bits.length === 0) return tlv(TAG.BIT_STRING, Buffer.of(0));
  const last = Math.max(...bits);
  const octets = Buffer.alloc((last >> 3) + 1);
  for (const b of bits) octets[b >> 3]! |= 0x80 >> (b & 7);
  return tlv(TAG.BIT_STRING, Buffer.of(7 - (last & 7)), octets);
}

/** A non-negative INTEGER from a number or big-endian unsigned bytes, minimally encoded. */
export function uint(value: number | bigint | Uint8Array): Buffer {
  let bytes: Buffer;
  if (typeof value === 'number' || typeof value === 'bigint') {
    let v = BigInt(value);
    if (v < 0n) throw new RangeError('uint: negative value');
    const out: number[] = [];
    do {
      out.unshift(Number(v & 0xffn));
      v >>= 8n;
    } while (v > 0n);
    bytes = Buffer.from(out);
  } else {
    let i = 0;
    while (i < value.length - 1 && value[i] === 0) i++;
    bytes = Buffer.from(value.subarray(i));
    if (bytes.length === 0) bytes = Buffer.of(0);
  }
  return tlv(TAG.INTEGER, bytes[0]! & 0x80 ? Buffer.concat([Buffer.of(0), bytes]) : bytes);
}

/** An OBJECT IDENTIFIER from its dotted form (X.690 §8.19). */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((a) => BigInt(a));
  if (arcs.length < 2 || arcs[0]! > 2n) throw new RangeError(`bad OID ${dotted}`);
  const sub = [arcs[0]! * 40n + arcs[1]!, ...arcs.slice(2)];
  const out: number[] = [];
  for (const arc of sub) {
    const groups: number[] = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) groups.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...groups);
  }
  return tlv(TAG.OID, Buffer.from(out));
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; whole seconds, Zulu. */
export function time(d: Date): Buffer {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '');
  const year = d.getUTCFullYear();
  return year >= 1950 && year < 2050 ? tlv(TAG.UTCTime, Buffer.from(`${digits.slice(2)}Z`)) : tlv(TAG.GeneralizedTime, Buffer.from(`${digits}Z`));
}

// ---- reading DER back ----

export interface Element {
  tag: number;
  /** The contents octets. */
  contents: Buffer;
  /** The whole TLV. */
  der: Buffer;
}

/** The element starting at `offset`. */
export function readElement(buf: Buffer, offset = 0): Element {
  const tag = buf[offset];
  let len = buf[offset + 1];
  if (tag === undefined || len === undefined) throw new RangeError('DER: truncated');
  let header = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new RangeError('DER: unsupported length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[offset + 2 + i]!;
    header += n;
  }
  const end = offset + header + len;
  if (end > buf.length) throw new RangeError('DER: truncated');
  return { tag, contents: buf.subarray(offset + header, end), der: buf.subarray(offset, end) };
}

/** The elements inside a constructed element's contents. */
export function children(el: Element | Buffer): Element[] {
  const contents = Buffer.isBuffer(el) ? readElement(el).contents : el.contents;
  const out: Element[] = [];
  for (let off = 0; off < contents.length; ) {
    const c = readElement(contents, off);
    out.push(c);
    off += c.der.length;
  }
  return out;
}

// ---- RFC 5280 building blocks ----

/**
 * ```
 * Name ::= CHOICE { rdnSequence RDNSequence }
 * RDNSequence ::= SEQUENCE OF RelativeDistinguishedName
 * RelativeDistinguishedName ::= SET SIZE (1..MAX) OF AttributeTypeAndValue
 * AttributeTypeAndValue ::= SEQUENCE { type AttributeType, value AttributeValue }
 * ```
 * One attribute per RDN, in the order given; `value` is a complete DER string.
 */
export function name(attributes: ReadonlyArray<readonly [type: string, value: Buffer]>): Buffer {
  return seq(...attributes.map(([type, value]) => setOf(seq(oid(type), value))));
}

/** id-at-countryName, id-at-organizationName, id-at-commonName (X.520). */
export const AT = { countryName: '2.5.4.6', organizationName: '2.5.4.10', commonName: '2.5.4.3' } as const;

/**
 * ```
 * Extension ::= SEQUENCE { extnID OBJECT IDENTIFIER, critical BOOLEAN DEFAULT FALSE,
 *                          extnValue OCTET STRING }
 * ```
 */
export function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), bool(true), octetString(value)) : seq(oid(id), octetString(value));
}

/** RFC 5280 extension OIDs (id-ce, 2.5.29). */
export const EXT = {
  subjectDirectoryAttributes: '2.5.29.9',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  certificatePolicies: '2.5.29.32',
  anyPolicy: '2.5.29.32.0',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
} as const;

/**
 * RFC 5280 §4.2.1.9, always critical here:
 * ```
 * BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE,
 *                                 pathLenConstraint INTEGER (0..MAX) OPTIONAL }
 * ```
 * cA FALSE is the DEFAULT, which DER leaves out.
 */
export function basicConstraints(c: { cA: boolean; pathLenConstraint?: number }): Buffer {
  const fields = [...(c.cA ? [bool(true)] : []), ...(c.pathLenConstraint !== undefined ? [uint(c.pathLenConstraint)] : [])];
  return extension(EXT.basicConstraints, true, seq(...fields));
}

/** RFC 5280 §4.2.1.3 KeyUsage bit numbers. */
export const KEY_USAGE = { digitalSignature: 0, keyEncipherment: 2, keyAgreement: 4, keyCertSign: 5, cRLSign: 6 } as const;

/**
 * RFC 5280 §4.2.1.3, always critical here:
 * ```
 * KeyUsage ::= BIT STRING { digitalSignature (0), nonRepudiation (1), keyEncipherment (2),
 *     dataEncipherment (3), keyAgreement (4), keyCertSign (5), cRLSign (6),
 *     encipherOnly (7), decipherOnly (8) }
 * ```
 */
export function keyUsage(...bits: number[]): Buffer {
  return extension(EXT.keyUsage, true, namedBits(bits));
}

/**
 * RFC 5280 §4.2.1.2 (non-critical):
 * ```
 * SubjectKeyIdentifier ::= KeyIdentifier
 * KeyIdentifier ::= OCTET STRING
 * ```
 */
export function subjectKeyIdentifier(keyId: Buffer): Buffer {
  return extension(EXT.subjectKeyIdentifier, false, octetString(keyId));
}

/**
 * RFC 5280 §4.2.1.1 (non-critical):
 * ```
 * AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] KeyIdentifier OPTIONAL, ... }
 * ```
 * [0] is IMPLICIT (the module's default tagging), so the OCTET STRING's tag becomes 0x80.
 */
export function authorityKeyIdentifier(keyId: Buffer): Buffer {
  return extension(EXT.authorityKeyIdentifier, false, seq(implicitPrimitive(0, keyId)));
}

/** Validity ::= SEQUENCE { notBefore Time, notAfter Time } */
export const validity = (notBefore: Date, notAfter: Date): Buffer => seq(time(notBefore), time(notAfter));

/** RFC 5280 §4.1.2.5: "no well-defined expiration date", 99991231235959Z. */
export const NO_EXPIRATION = new Date(Date.UTC(9999, 11, 31, 23, 59, 59));

/** A random serial of 16 octets, positive and without a leading zero octet (RFC 5280 §4.1.2.2). */
export function randomSerial(random: (n: number) => Buffer): Buffer {
  const s = random(16);
  s[0]! &= 0x7f;
  if (s[0] === 0) s[0] = 0x01;
  return s;
}

/** Signature algorithms a CA key here signs with, by the key's type. */
export interface SignatureAlgorithm {
  /** AlgorithmIdentifier DER. */
  identifier: Buffer;
  /** node's digest name for crypto.sign. */
  hash: string;
}

/** ecdsa-with-SHA384 (RFC 5758 §3.2: parameters absent) or sha384WithRSAEncryption (RFC 4055: NULL). */
export function signatureAlgorithmFor(key: KeyObject): SignatureAlgorithm {
  if (key.asymmetricKeyType === 'ec') return { identifier: seq(oid('1.2.840.10045.4.3.3')), hash: 'sha384' };
  if (key.asymmetricKeyType === 'rsa') return { identifier: seq(oid('1.2.840.113549.1.1.12'), nullValue()), hash: 'sha384' };
  throw new TypeError(`unsupported CA key type ${key.asymmetricKeyType}`);
}

/**
 * ```
 * Certificate ::= SEQUENCE { tbsCertificate TBSCertificate, signatureAlgorithm AlgorithmIdentifier,
 *                            signatureValue BIT STRING }
 * ```
 * `tbs` must carry the same AlgorithmIdentifier in its `signature` field.
 */
export function signCertificate(tbs: Buffer, alg: SignatureAlgorithm, key: KeyObject): Buffer {
  const signature = sign(alg.hash, tbs, key); // ECDSA: DER Ecdsa-Sig-Value; RSA: PKCS#1 v1.5
  return seq(tbs, alg.identifier, bitString(signature));
}

/**
 * KeyIdentifier, RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING's
 * value (without tag, length and unused-bits octet).
 */
export function keyIdentifier(spki: Buffer): Buffer {
  const [, subjectPublicKey] = children(spki);
  if (!subjectPublicKey || subjectPublicKey.tag !== TAG.BIT_STRING) throw new RangeError('not a SubjectPublicKeyInfo');
  return createHash('sha1').update(subjectPublicKey.contents.subarray(1)).digest();
}

export function toPem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}

export function fromPem(label: string, pem: string): Buffer {
  const m = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`).exec(pem);
  if (!m) throw new RangeError(`no ${label} in PEM text`);
  return Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
}
