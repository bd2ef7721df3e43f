// Reading an import evidence bundle that may hold anything: each reader returns a field's value
// or throws an Error whose message names the field and what is wrong with it, which the verifier
// reports as a failed check. Values are parsed once (lazy) and shared by the checks that need them.

import { X509Certificate } from 'node:crypto';

export function fail(message: string): never {
  throw new Error(message);
}

/** `make()` run at most once; its value, or the same error, on every call. */
export function lazy<T>(make: () => T): () => T {
  let outcome: { value: T } | { error: unknown } | undefined;
  return () => {
    if (!outcome) {
      try {
        outcome = { value: make() };
      } catch (error) {
        outcome = { error };
      }
    }
    if ('error' in outcome) throw outcome.error;
    return outcome.value;
  };
}

/** The value at a dotted path ("certify.attest"), which must be a string. */
export function stringField(bundle: unknown, path: string): string {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(bundle)) fail('the evidence is not a JSON object');
  let at: unknown = bundle;
  for (const part of path.split('.')) at = isObject(at) ? at[part] : undefined;
  if (typeof at !== 'string') fail(`${path} is ${at === undefined ? 'missing' : `not a string (${typeof at})`}`);
  return at;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Standard base64 (padded), decoded strictly: anything else is an error, never ignored characters. */
export function decodeBase64(text: string, what: string): Buffer {
  if (text.length === 0 || !BASE64.test(text)) fail(`${what} is not base64`);
  return Buffer.from(text, 'base64');
}

/** Unpadded base64url, decoded strictly (the empty string is no bytes). */
export function decodeBase64url(text: string, what: string): Buffer {
  if (!BASE64URL.test(text) || text.length % 4 === 1) fail(`${what} is not base64url`);
  return Buffer.from(text, 'base64url');
}

export function base64Field(bundle: unknown, path: string): Buffer {
  return decodeBase64(stringField(bundle, path), path);
}

export function hexField(bundle: unknown, path: string): Buffer {
  const text = stringField(bundle, path);
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(text)) fail(`${path} is not hex`);
  return Buffer.from(text, 'hex');
}

/** A PEM certificate; `what` names it in messages. */
export function parseCertificate(pem: unknown, what: string): X509Certificate {
  if (typeof pem !== 'string' || !pem.includes('-----BEGIN CERTIFICATE-----')) fail(`${what} is not a PEM certificate`);
  try {
    return new X509Certificate(pem);
  } catch (e) {
    return fail(`${what} does not parse as X.509 (${(e as Error).message})`);
  }
}

export function certificateField(bundle: unknown, path: string): X509Certificate {
  return parseCertificate(stringField(bundle, path), path);
}
