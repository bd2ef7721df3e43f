// The canonical form every audit hash and checkpoint signature is computed over — the one
// definition shared by the service that writes the log and the offline verifier that reads it.
//
//   canonical(value) = JSON text, UTF-8 encoded, with
//     - object members sorted by key, recursively, comparing keys as UTF-16 code-unit sequences
//       (JavaScript's default sort; the order RFC 8785 "JSON Canonicalization Scheme" uses);
//     - no whitespace anywhere;
//     - strings escaped exactly as JSON.stringify escapes them (", \ and U+0000–U+001F; the
//       short forms \b \f \n \r \t, otherwise \u00xx lower-case; everything else literal);
//     - numbers as JSON.stringify writes them (the ECMAScript shortest round-trip form, which
//       RFC 8785 also uses); only finite numbers;
//     - object members whose value is `undefined` left out (as JSON.stringify does), so an
//       optional field that is absent and one that is `undefined` hash the same.
//   Refused (throws CanonicalError): non-finite numbers, bigint, functions, symbols, binary
//   (Buffer/typed arrays), Dates and other class instances, `undefined` inside arrays, and
//   strings holding a lone UTF-16 surrogate (which UTF-8 cannot carry).
//
// For the values the audit log holds (strings, integers, booleans, null, arrays, plain objects)
// this output is byte-identical to RFC 8785. The known-answer test in canonical.test.ts pins it.

import { createHash } from 'node:crypto';

export class CanonicalError extends Error {
  override name = 'CanonicalError';
}

const LONE_SURROGATE = /\p{Cs}/u;

/** The canonical JSON text of `value` (see the header for the exact rules). */
export function canonicalize(value: unknown): string {
  try {
    return write(value);
  } catch (e) {
    if (e instanceof Refused) throw new CanonicalError(`$${e.path.join('')}: ${e.message}`);
    throw e;
  }
}

/** SHA-256 of the UTF-8 bytes of canonicalize(value), lower-case hex. */
export function canonicalHash(value: unknown): string {
  return sha256Hex(canonicalize(value));
}

/** SHA-256 of the UTF-8 bytes of `text`, lower-case hex. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Thrown inside write(); each enclosing level prepends its key, so paths cost nothing until an error. */
class Refused extends Error {
  readonly path: string[] = [];
}

const SURROGATE = /[\uD800-\uDFFF]/;

function write(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new Refused(`number ${value} has no JSON form`);
      return JSON.stringify(value);
    case 'string':
      // the cheap test first; the precise one only for text that holds surrogates at all
      if (SURROGATE.test(value) && LONE_SURROGATE.test(value)) throw new Refused('string holds a lone UTF-16 surrogate');
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      throw new Refused(`${typeof value} has no JSON form`);
  }
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      try {
        if (value[i] === undefined) throw new Refused('undefined in an array');
        out += (i === 0 ? '' : ',') + write(value[i]);
      } catch (e) {
        if (e instanceof Refused) e.path.unshift(`[${i}]`);
        throw e;
      }
    }
    return out + ']';
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    throw new Refused(`${proto?.constructor?.name ?? 'object'} is not a plain JSON object`);
  }
  let out = '{';
  for (const key of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[key];
    if (v === undefined) continue;
    try {
      out += (out.length === 1 ? '' : ',') + write(key) + ':' + write(v);
    } catch (e) {
      if (e instanceof Refused) e.path.unshift(`.${key}`);
      throw e;
    }
  }
  return out + '}';
}
