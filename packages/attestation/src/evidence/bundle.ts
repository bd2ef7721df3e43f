// The evidence bundle (format "sealkeep-evidence", version 1; README.md): its JSON type as a
// producer writes it, and parseBundle(), which checks the shape and decodes the binary fields
// (base64, hex) into the form the checks use. Bad input becomes findings, never an exception:
// a field that does not decode is reported and left out, and only a bundle without a usable
// quote or AK comes back null.

import type { CelHashAlg } from '@sealkeep/tpm';
import type { FindingCollector } from './findings.js';

export const BUNDLE_FORMAT = 'sealkeep-evidence';
export const BUNDLE_VERSION = 1;

/** The hierarchies a primary AK can live in, as `ak.parent` names them. */
export type HierarchyName = 'endorsement' | 'owner' | 'platform' | 'null';
export const HIERARCHIES: readonly HierarchyName[] = ['endorsement', 'owner', 'platform', 'null'];

/** The bundle as JSON: binary fields base64 (standard alphabet), digests and PCR values hex. */
export interface EvidenceBundle {
  format: typeof BUNDLE_FORMAT;
  version: typeof BUNDLE_VERSION;
  subject: { kind: 'host' | 'vm'; id: string; host?: string };
  /** ISO 8601, when the producer assembled the bundle (informational). */
  createdAt?: string;
  /** quote.attest: the TPM2B_ATTEST's bytes (a TPMS_ATTEST); quote.signature: a TPMT_SIGNATURE. */
  quote: { attest: string; signature: string };
  /** PCR values by bank ("sha1" | "sha256" | "sha384") and index ("0"–"23"), hex. */
  pcrs: Partial<Record<CelHashAlg, Record<string, string>>>;
  /** TCG CEL JSON logs: the static (SRTM / VM boot) log and the dynamic launch (DRTM) log. */
  eventLogs?: { static?: unknown[]; drtm?: unknown[] };
  ak: {
    /** base64 TPM2B_PUBLIC, or a PEM SubjectPublicKeyInfo. */
    public: string;
    /** A primary AK's hierarchy, or the parent's Qualified Name in hex: lets qualifiedSigner be checked. */
    parent?: HierarchyName | string;
    /** The AK certificate and the CA certificates above it (leaf first); base64 DER or PEM. */
    certificate?: string;
    chain?: string[];
  };
  ek?: { certificate: string; chain?: string[] };
  /** Reference values as the producer knows them (policy.ts); a reviewer passes their own. */
  referenceValues?: unknown;
  /** The service's own measurements (code and configuration digests); carried, not checked here. */
  serviceMeasurements?: unknown;
}

export type AkPublicInput = { kind: 'tpm2b-public'; bytes: Buffer } | { kind: 'pem'; pem: string };

/** A bundle with its binary fields decoded. */
export interface ParsedBundle {
  subject: { kind: 'host' | 'vm'; id: string; host?: string };
  quote: { attest: Buffer; signature: Buffer };
  pcrs: Map<CelHashAlg, Map<number, Buffer>>;
  eventLogs: { static?: unknown[]; drtm?: unknown[] };
  ak: { public: AkPublicInput; parent?: HierarchyName | Buffer; certificate?: Buffer; chain: Buffer[] };
  ek: { certificate?: Buffer; chain: Buffer[] };
  referenceValues?: unknown;
  serviceMeasurements?: unknown;
}

export const DIGEST_SIZE: Record<CelHashAlg, number> = { sha1: 20, sha256: 32, sha384: 48 };
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const HEX = /^(?:[0-9a-fA-F]{2})+$/;
const PEM_CERT = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/g;
const TOP_LEVEL = ['format', 'version', 'subject', 'createdAt', 'quote', 'pcrs', 'eventLogs', 'ak', 'ek', 'referenceValues', 'serviceMeasurements'];

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The input (an object, or its JSON text) as a JSON object; null, with `malformed` told why, when it is not one. */
export function jsonObjectOf(input: unknown, what: string, malformed: (detail: string) => void): Record<string, unknown> | null {
  let value = input;
  if (typeof input === 'string' || Buffer.isBuffer(input)) {
    try {
      value = JSON.parse(input.toString());
    } catch (e) {
      malformed(`not JSON: ${(e as Error).message}`);
      return null;
    }
  }
  if (!isObject(value)) {
    malformed(`the ${what} must be a JSON object`);
    return null;
  }
  return value;
}
export const isHex = (v: unknown): v is string => typeof v === 'string' && HEX.test(v);

/** Strict standard base64 (padding required), else null. */
export function decodeBase64(v: unknown): Buffer | null {
  if (typeof v !== 'string' || v.length === 0 || !BASE64.test(v)) return null;
  return Buffer.from(v, 'base64');
}

/** Every certificate of a PEM text (DER), or of one base64 DER string. */
export function decodeCertificates(v: unknown): Buffer[] | null {
  if (typeof v !== 'string') return null;
  if (v.includes('-----BEGIN')) {
    const ders = [...v.matchAll(PEM_CERT)].map((m) => Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
    return ders.length > 0 ? ders : null;
  }
  const der = decodeBase64(v);
  return der ? [der] : null;
}

/** Parse and decode a bundle (an object, or its JSON text); null when nothing can be verified. */
export function parseBundle(input: unknown, f: FindingCollector): ParsedBundle | null {
  const bad = (field: string, want: string) => f.add('bundle-malformed', `${field}: must be ${want}`);
  const b = jsonObjectOf(input, 'bundle', (detail) => f.add('bundle-malformed', detail));
  if (!b) return null;
  if (b.format !== BUNDLE_FORMAT) bad('format', `"${BUNDLE_FORMAT}"`);
  if (b.version !== BUNDLE_VERSION) {
    f.add('bundle-version-unsupported', `this verifier reads version ${BUNDLE_VERSION}`, { expected: String(BUNDLE_VERSION), found: JSON.stringify(b.version) ?? 'nothing' });
    return null;
  }
  for (const key of Object.keys(b)) if (!TOP_LEVEL.includes(key)) f.add('bundle-field-unknown', `${key}: not a version ${BUNDLE_VERSION} field; ignored`);

  const subject = parseSubject(b.subject, bad);
  const quote = parseQuote(b.quote, bad);
  const pcrs = parsePcrs(b.pcrs, bad);
  const eventLogs: ParsedBundle['eventLogs'] = {};
  if (b.eventLogs !== undefined) {
    if (!isObject(b.eventLogs)) bad('eventLogs', 'an object { static?, drtm? }');
    else {
      for (const name of ['static', 'drtm'] as const) {
        const log = b.eventLogs[name];
        if (log === undefined) continue;
        if (Array.isArray(log)) eventLogs[name] = log;
        else bad(`eventLogs.${name}`, 'a CEL JSON log (an array of records)');
      }
    }
  }
  const ak = parseAk(b.ak, bad);
  const ek = parseEk(b.ek, bad);
  if (!quote || !ak) return null;
  const out: ParsedBundle = { subject: subject ?? { kind: 'host', id: '(unnamed)' }, quote, pcrs, eventLogs, ak, ek };
  if (b.referenceValues !== undefined) out.referenceValues = b.referenceValues;
  if (b.serviceMeasurements !== undefined) out.serviceMeasurements = b.serviceMeasurements;
  return out;
}

type Bad = (field: string, want: string) => void;

function parseSubject(v: unknown, bad: Bad): ParsedBundle['subject'] | null {
  if (!isObject(v) || (v.kind !== 'host' && v.kind !== 'vm') || typeof v.id !== 'string' || v.id.length === 0) {
    bad('subject', '{ kind: "host" | "vm", id: non-empty string, host?: string }');
    return null;
  }
  if (v.host !== undefined && typeof v.host !== 'string') bad('subject.host', 'a string');
  return typeof v.host === 'string' ? { kind: v.kind, id: v.id, host: v.host } : { kind: v.kind, id: v.id };
}

function parseQuote(v: unknown, bad: Bad): ParsedBundle['quote'] | null {
  if (!isObject(v)) {
    bad('quote', 'an object { attest, signature }');
    return null;
  }
  const attest = decodeBase64(v.attest);
  const signature = decodeBase64(v.signature);
  if (!attest) bad('quote.attest', 'base64 of a TPMS_ATTEST');
  if (!signature) bad('quote.signature', 'base64 of a TPMT_SIGNATURE');
  return attest && signature ? { attest, signature } : null;
}

function parsePcrs(v: unknown, bad: Bad): ParsedBundle['pcrs'] {
  const out: ParsedBundle['pcrs'] = new Map();
  if (!isObject(v)) {
    bad('pcrs', 'an object { bank: { index: hex } }');
    return out;
  }
  for (const [bank, values] of Object.entries(v)) {
    if (!(bank in DIGEST_SIZE)) {
      bad(`pcrs.${bank}`, 'a bank named sha1, sha256 or sha384');
      continue;
    }
    const size = DIGEST_SIZE[bank as CelHashAlg];
    const map = new Map<number, Buffer>();
    if (!isObject(values)) bad(`pcrs.${bank}`, 'an object { index: hex }');
    else {
      for (const [index, hex] of Object.entries(values)) {
        const pcr = Number(index);
        if (!/^(?:0|[1-9]\d?)$/.test(index) || pcr > 23) bad(`pcrs.${bank}.${index}`, 'keyed by a PCR index 0–23');
        else if (!isHex(hex) || hex.length !== 2 * size) bad(`pcrs.${bank}.${index}`, `${size} bytes of hex`);
        else map.set(pcr, Buffer.from(hex, 'hex'));
      }
    }
    out.set(bank as CelHashAlg, map);
  }
  return out;
}

function parseCertList(v: unknown, field: string, bad: Bad): Buffer[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) {
    bad(field, 'an array of certificates (base64 DER or PEM)');
    return [];
  }
  return v.flatMap((c, i) => decodeCertificates(c) ?? (bad(`${field}[${i}]`, 'a certificate, base64 DER or PEM'), []));
}

function parseOneCert(v: unknown, field: string, bad: Bad): Buffer | undefined {
  if (v === undefined) return undefined;
  const ders = decodeCertificates(v);
  if (!ders || ders.length !== 1) bad(field, 'one certificate, base64 DER or PEM');
  return ders?.[0];
}

function parseAk(v: unknown, bad: Bad): ParsedBundle['ak'] | null {
  if (!isObject(v)) {
    bad('ak', 'an object { public, parent?, certificate?, chain? }');
    return null;
  }
  let pub: AkPublicInput | null = null;
  if (typeof v.public === 'string' && v.public.includes('-----BEGIN PUBLIC KEY-----')) pub = { kind: 'pem', pem: v.public };
  else {
    const bytes = decodeBase64(v.public);
    if (bytes) pub = { kind: 'tpm2b-public', bytes };
  }
  if (!pub) bad('ak.public', 'base64 of a TPM2B_PUBLIC, or a PEM public key');
  let parent: HierarchyName | Buffer | undefined;
  if (typeof v.parent === 'string' && (HIERARCHIES as readonly string[]).includes(v.parent)) parent = v.parent as HierarchyName;
  else if (isHex(v.parent)) parent = Buffer.from(v.parent, 'hex');
  else if (v.parent !== undefined) bad('ak.parent', `one of ${HIERARCHIES.join(', ')}, or the parent's Qualified Name in hex`);
  const certificate = parseOneCert(v.certificate, 'ak.certificate', bad);
  const chain = parseCertList(v.chain, 'ak.chain', bad);
  if (!pub) return null;
  return { public: pub, ...(parent !== undefined && { parent }), ...(certificate && { certificate }), chain };
}

function parseEk(v: unknown, bad: Bad): ParsedBundle['ek'] {
  if (v === undefined) return { chain: [] };
  if (!isObject(v)) {
    bad('ek', 'an object { certificate, chain? }');
    return { chain: [] };
  }
  const certificate = parseOneCert(v.certificate, 'ek.certificate', bad);
  return { ...(certificate && { certificate }), chain: parseCertList(v.chain, 'ek.chain', bad) };
}
