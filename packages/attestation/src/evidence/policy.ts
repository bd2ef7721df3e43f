// Reference values: a small JSON policy (README.md, "Reference-value policy") of expected PCR
// values per bank — one value or a list of allowed ones — and of events that must be in the
// replayed logs with a given digest. Checked against the PCR values the quote covers and the
// records of the logs, one finding per mismatch. parsePolicy() reports shape errors as findings.

import { eventTypeCode, type CelHashAlg, type CelRecord } from '@sealkeep/tpm';
import { DIGEST_SIZE, isHex, isObject } from './bundle.js';
import type { ReadLog } from './event-log.js';
import type { FindingCollector } from './findings.js';
import type { QuotedPcrs } from './quote.js';

export interface ReferencePolicy {
  version?: 1;
  /** bank → PCR index → the expected value, or a list of allowed values (hex). */
  pcrs?: Partial<Record<CelHashAlg, Record<string, string | string[]>>>;
  /** Events that must be in the event logs. */
  events?: ReferenceEvent[];
}

export interface ReferenceEvent {
  pcr: number;
  /** The event type, by name (EV_IPL, EVTYPE_MLE_HASH …) or number; any type when absent. */
  type?: string | number;
  /** The event data as UTF-8 text (an EV_IPL module name); any data when absent. */
  name?: string;
  /** The digest the event extended, hex, in `bank` (default sha256). */
  digest: string;
  bank?: CelHashAlg;
}

interface ParsedPolicy {
  pcrs: Array<{ bank: CelHashAlg; pcr: number; allowed: string[] }>;
  events: Array<Required<Pick<ReferenceEvent, 'pcr' | 'digest' | 'bank'>> & { type?: number; name?: string; label: string }>;
}

/** Check the shape; malformed rules are reported and left out. */
export function parsePolicy(v: unknown, f: FindingCollector): ParsedPolicy | null {
  const bad = (field: string, want: string) => f.add('policy-malformed', `policy.${field}: must be ${want}`);
  if (!isObject(v)) {
    f.add('policy-malformed', 'the policy must be a JSON object { version?, pcrs?, events? }');
    return null;
  }
  if (v.version !== undefined && v.version !== 1) bad('version', '1');
  for (const key of Object.keys(v)) if (!['version', 'pcrs', 'events'].includes(key)) bad(key, 'absent (not a policy field)');
  const out: ParsedPolicy = { pcrs: [], events: [] };
  if (v.pcrs !== undefined) {
    if (!isObject(v.pcrs)) bad('pcrs', 'an object { bank: { index: hex | hex[] } }');
    else {
      for (const [bank, rules] of Object.entries(v.pcrs)) {
        const size = DIGEST_SIZE[bank as CelHashAlg];
        if (!size || !isObject(rules)) {
          bad(`pcrs.${bank}`, 'a bank (sha1, sha256, sha384) mapping PCR indices to values');
          continue;
        }
        for (const [index, value] of Object.entries(rules)) {
          const allowed = (Array.isArray(value) ? value : [value]) as unknown[];
          const pcr = Number(index);
          if (!/^\d{1,2}$/.test(index) || pcr > 23) bad(`pcrs.${bank}.${index}`, 'keyed by a PCR index 0–23');
          else if (allowed.length === 0 || !allowed.every((x) => isHex(x) && x.length === 2 * size)) bad(`pcrs.${bank}.${index}`, `${size}-byte hex, or a non-empty list of them`);
          else out.pcrs.push({ bank: bank as CelHashAlg, pcr, allowed: (allowed as string[]).map((x) => x.toLowerCase()) });
        }
      }
    }
  }
  if (v.events !== undefined) {
    if (!Array.isArray(v.events)) bad('events', 'an array of { pcr, type?, name?, digest, bank? }');
    else {
      v.events.forEach((e: unknown, i) => {
        const at = `events[${i}]`;
        if (!isObject(e)) return bad(at, 'an object { pcr, type?, name?, digest, bank? }');
        const bank = (e.bank ?? 'sha256') as CelHashAlg;
        const type = e.type === undefined ? undefined : typeof e.type === 'string' || typeof e.type === 'number' ? eventTypeCode(e.type) : undefined;
        if (typeof e.pcr !== 'number' || !Number.isInteger(e.pcr) || e.pcr < 0 || e.pcr > 23) return bad(`${at}.pcr`, 'a PCR index 0–23');
        if (!DIGEST_SIZE[bank]) return bad(`${at}.bank`, 'sha1, sha256 or sha384');
        if (!isHex(e.digest) || e.digest.length !== 2 * DIGEST_SIZE[bank]) return bad(`${at}.digest`, `${DIGEST_SIZE[bank]} bytes of hex`);
        if (e.type !== undefined && type === undefined) return bad(`${at}.type`, 'a known event type name or a number');
        if (e.name !== undefined && typeof e.name !== 'string') return bad(`${at}.name`, 'a string');
        const label = `PCR ${e.pcr}${e.type !== undefined ? ` ${String(e.type)}` : ''}${e.name !== undefined ? ` "${e.name}"` : ''}`;
        out.events.push({ pcr: e.pcr, digest: e.digest.toLowerCase(), bank, label, ...(type !== undefined && { type }), ...(typeof e.name === 'string' && { name: e.name }) });
      });
    }
  }
  return out;
}

function matches(r: CelRecord, rule: ParsedPolicy['events'][number]): boolean {
  if (r.pcr !== rule.pcr) return false;
  if (rule.type === undefined && rule.name === undefined) return true;
  if (r.content_type !== 'pcclient_std') return false;
  if (rule.type !== undefined && eventTypeCode(r.content.event_type) !== rule.type) return false;
  return rule.name === undefined || Buffer.from(r.content.event_data, 'base64').toString('utf8') === rule.name;
}

/** Evaluate the policy against the quoted PCR values and the logs' records. */
export function evaluatePolicy(policy: ParsedPolicy, quoted: QuotedPcrs, logs: ReadLog[], f: FindingCollector): void {
  for (const { bank, pcr, allowed } of policy.pcrs) {
    const value = quoted.get(bank)?.get(pcr)?.toString('hex');
    if (value === undefined) {
      f.add('policy-pcr-not-quoted', `the policy pins ${bank} PCR ${pcr}, which the quote does not cover`, { expected: allowed.join(' | ') });
    } else if (!allowed.includes(value)) {
      f.add('policy-pcr-mismatch', `${bank} PCR ${pcr} is not a reference value`, { expected: allowed.join(' | '), found: value });
    }
  }
  const records = logs.flatMap((l) => l.records);
  for (const rule of policy.events) {
    const candidates = records.filter((r) => matches(r, rule));
    const digests = candidates.map((r) => r.digests.find((d) => d.hashAlg === rule.bank)?.digest ?? `(no ${rule.bank} digest)`);
    if (candidates.length === 0) {
      f.add('policy-event-missing', `no event ${rule.label} in the event logs`, { expected: `${rule.bank}:${rule.digest}` });
    } else if (!digests.includes(rule.digest)) {
      f.add('policy-event-digest-mismatch', `event ${rule.label} measured something other than the reference value`, { expected: `${rule.bank}:${rule.digest}`, found: digests.join(' | ') });
    }
  }
}
