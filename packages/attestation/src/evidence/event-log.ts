// Event logs against the quote: each TCG CEL JSON log of the bundle (static: PCRs 0–16 and 23,
// drtm: PCRs 17–22) is read leniently record by record with the project's CEL parser, its record
// numbers checked (reordered, or with gaps), digests recomputed where the PC Client profile says
// the digest is that of the event data, and replayed per quoted bank with replay() from the PC
// Client initial values (17–22 all-FF until EVTYPE_HASH_START zeroes them). Every quoted PCR in
// a given log's range must equal its replay; one finding per bank and PCR that does not.

import { createHash } from 'node:crypto';
import { CelLog, EVENT_TYPES, eventTypeCode, isExtending, replay, type CelHashAlg, type CelRecord } from '@sealkeep/tpm';
import { DIGEST_SIZE, isObject, type ParsedBundle } from './bundle.js';
import type { FindingCollector } from './findings.js';
import type { QuotedPcrs } from './quote.js';

export type LogName = 'static' | 'drtm';

export interface ReadLog {
  name: LogName;
  /** The records in log order, each validated (recnum renumbered when out of sequence). */
  records: CelRecord[];
  /** The same records as a CelLog, for replay(). */
  cel: CelLog;
  /** False when a record did not parse: the log is not replayed. */
  complete: boolean;
}

const isDrtmPcr = (pcr: number) => pcr >= 17 && pcr <= 22;
const inRange = (log: LogName, pcr: number) => (log === 'drtm' ? isDrtmPcr(pcr) : !isDrtmPcr(pcr));

/**
 * PC Client event types whose digest is the hash of the event data (PC Client Platform Firmware
 * Profile §10.4.1), and Intel TXT's EVTYPE_CAP_VALUE as platform/launch.ts records it.
 */
const DIGEST_OF_DATA = new Set<number>([
  EVENT_TYPES.EV_SEPARATOR,
  EVENT_TYPES.EV_ACTION,
  EVENT_TYPES.EV_S_CRTM_VERSION,
  EVENT_TYPES.EV_OMIT_BOOT_DEVICE_EVENTS,
  EVENT_TYPES.EVTYPE_CAP_VALUE,
  0x80000007, // EV_EFI_ACTION
]);

/** Read a log record by record; shape errors, recnum order and recomputable digests become findings. */
export function readLog(name: LogName, raw: unknown[], f: FindingCollector): ReadLog {
  const log = new CelLog();
  const given = new Map<number, number[]>();
  let complete = true;
  raw.forEach((r, i) => {
    const recnum = isObject(r) ? r.recnum : undefined;
    if (typeof recnum !== 'number' || !Number.isInteger(recnum) || recnum < 0) {
      f.add('event-log-malformed', `${name} log, record ${i}: recnum must be a non-negative integer`);
      complete = false;
      return;
    }
    try {
      const rec = log.append(r as CelRecord);
      given.set(rec.pcr, [...(given.get(rec.pcr) ?? []), recnum]);
      checkContentDigest(name, i, rec, f);
    } catch (e) {
      f.add('event-log-malformed', `${name} log, ${(e as Error).message.replace(/^record \d+/, `record ${i}`)}`);
      complete = false;
    }
  });
  // A record that did not parse has no place in the sequence: numbering is judged only in a whole log.
  for (const [pcr, recnums] of complete ? given : []) {
    const inOrder = recnums.every((n, i) => n === i);
    if (inOrder) continue;
    const sorted = [...recnums].sort((a, b) => a - b);
    const at = recnums.findIndex((n, i) => n !== i);
    if (sorted.every((n, i) => n === i)) {
      f.add('event-log-reordered', `${name} log, PCR ${pcr}: records are not in recnum order (the events were reordered)`, {
        expected: recnums.map((_, i) => i).join(','),
        found: recnums.join(','),
      });
    } else {
      f.add('event-log-recnum-gap', `${name} log, PCR ${pcr}: record numbers are not 0, 1, 2 … (a record is missing, repeated or inserted; first at position ${at})`, {
        expected: recnums.map((_, i) => i).join(','),
        found: recnums.join(','),
      });
    }
  }
  return { name, records: [...log.records], cel: log, complete };
}

function checkContentDigest(log: LogName, i: number, r: CelRecord, f: FindingCollector): void {
  if (r.content_type !== 'pcclient_std') return;
  const type = eventTypeCode(r.content.event_type);
  if (type === undefined || !DIGEST_OF_DATA.has(type)) return;
  const data = Buffer.from(r.content.event_data, 'base64');
  for (const d of r.digests) {
    const computed = createHash(d.hashAlg).update(data).digest('hex');
    if (computed !== d.digest) {
      f.add('event-digest-mismatch', `${log} log, record ${i} (PCR ${r.pcr}, ${String(r.content.event_type)}): the ${d.hashAlg} digest is not that of the event data`, {
        expected: computed,
        found: d.digest,
      });
    }
  }
}

/** The value a PCR has before any event: zero; all-FF for 17–22 (no dynamic launch yet). */
const initial = (bank: CelHashAlg, pcr: number) => Buffer.alloc(DIGEST_SIZE[bank], isDrtmPcr(pcr) ? 0xff : 0);

/** Replay every complete log in every quoted bank and compare with the quoted values. Returns the records read. */
export function checkEventLogs(logs: ParsedBundle['eventLogs'], quoted: QuotedPcrs, f: FindingCollector): ReadLog[] {
  const read = (['static', 'drtm'] as const).filter((n) => logs[n] !== undefined).map((n) => readLog(n, logs[n]!, f));
  const touched = new Map<LogName, Set<number>>(read.map((l) => [l.name, new Set(l.records.filter(isExtending).map((r) => r.pcr))]));
  const both = [...(touched.get('static') ?? [])].filter((pcr) => touched.get('drtm')?.has(pcr));
  for (const pcr of both) f.add('event-log-overlap', `PCR ${pcr} is extended by events of both the static and the drtm log: neither can be replayed alone`);

  for (const [bank, values] of quoted) {
    for (const log of read) {
      if (!log.complete) continue;
      const lacking = log.records.filter((r) => isExtending(r) && !r.digests.some((d) => d.hashAlg === bank));
      if (lacking.length > 0) {
        f.add('event-log-bank-missing', `${log.name} log: ${lacking.length} event(s) carry no ${bank} digest, so the ${bank} bank cannot be replayed`);
        continue;
      }
      let replayed: Map<number, Buffer>;
      try {
        replayed = replay(log.cel, bank);
      } catch (e) {
        f.add('event-log-malformed', `${log.name} log: does not replay in ${bank}: ${(e as Error).message}`);
        continue;
      }
      const mine = touched.get(log.name)!;
      for (const [pcr, value] of values) {
        if (!(inRange(log.name, pcr) || mine.has(pcr)) || both.includes(pcr)) continue;
        const expected = replayed.get(pcr) ?? initial(bank, pcr);
        if (!expected.equals(value)) {
          f.add('event-log-pcr-mismatch', `${bank} PCR ${pcr}: the ${log.name} log does not replay to the quoted value`, {
            expected: value.toString('hex'),
            found: expected.toString('hex'),
          });
        }
      }
      const unquoted = [...mine].filter((pcr) => !values.has(pcr));
      if (unquoted.length > 0) {
        f.add('event-log-not-quoted', `${log.name} log: events on ${bank} PCR ${unquoted.join(', ')}, which the quote does not cover; they are not attested`);
      }
    }
    const uncovered = [...values.keys()].filter((pcr) => !read.some((l) => inRange(l.name, pcr) || touched.get(l.name)!.has(pcr)));
    if (uncovered.length > 0) {
      f.add('pcr-not-covered-by-log', `${bank} PCR ${uncovered.join(', ')}: quoted, but no event log of the bundle covers them (only reference values can pin them)`);
    }
  }
  return read;
}
