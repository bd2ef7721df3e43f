// The TCG Canonical Event Log (CEL), JSON encoding ("TCG Canonical Event Log Format" v1.0, the
// information model TPMS_CEL_EVENT and its JSON binding): a log is a JSON array of records
//
//   { "recnum": 0, "pcr": 17,
//     "digests": [{ "hashAlg": "sha256", "digest": "<hex>" }, …],
//     "content_type": "pcclient_std",
//     "content": { "event_type": "EVTYPE_HASH_START", "event_data": "<base64>" } }
//
// Record numbers count per PCR from 0, as tpm2-tss FAPI writes them (recnum_tab[pcrIndex]);
// event_type is written as a name where one is known (tpm2-tss FAPI writes the PC Client names)
// and read as a name or a number. CelLog appends records while a caller extends, serialises and
// parses (strictly: every shape error names the record and field), and replay() recomputes PCR
// values in one bank from the PC Client initial values: zeros; all-FF for 17–22 until a dynamic
// launch, which an EVTYPE_HASH_START record on PCR 17 marks (17–22 reset to zero, as
// _TPM_Hash_Start does); PCR 0 starting at the locality an EV_NO_ACTION "StartupLocality" event
// names. Used for the DRTM log of platform/launch.ts, VM measured boot and the offline verifier.

import { createHash } from 'node:crypto';

export type CelHashAlg = 'sha1' | 'sha256' | 'sha384';
export const CEL_HASH_ALGS: readonly CelHashAlg[] = ['sha1', 'sha256', 'sha384'];
const DIGEST_SIZE: Record<CelHashAlg, number> = { sha1: 20, sha256: 32, sha384: 48 };

export interface CelDigest {
  hashAlg: CelHashAlg;
  /** Lower-case hex. */
  digest: string;
}

/** pcclient_std content: the PC Client TCG_PCR_EVENT2 fields beyond the digests. */
export interface PcClientContent {
  event_type: number | string;
  /** Base64. */
  event_data: string;
}

/** CEL management content (the spec's cel_version, firmware_end, cel_timestamp, state_trans). */
export interface CelMgmtContent {
  type: 'cel_version' | 'firmware_end' | 'cel_timestamp' | 'state_trans';
  data?: unknown;
}

interface RecordBase {
  recnum: number;
  pcr: number;
  digests: CelDigest[];
}

export type CelRecord = RecordBase &
  (
    | { content_type: 'pcclient_std'; content: PcClientContent }
    | { content_type: 'cel'; content: CelMgmtContent }
    | { content_type: 'ima_template' | 'ima_tlv' | 'systemd'; content: Record<string, unknown> }
  );

export type CelContentType = CelRecord['content_type'];
const CONTENT_TYPES = new Set<string>(['pcclient_std', 'cel', 'ima_template', 'ima_tlv', 'systemd']);
const MGMT_TYPES = new Set<string>(['cel_version', 'firmware_end', 'cel_timestamp', 'state_trans']);

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A record before the log numbers it. */
export type CelEntry = DistributiveOmit<CelRecord, 'recnum'>;

// ---- event types ---------------------------------------------------------------------------------

/**
 * Event types by name. PC Client: TCG PC Client Platform Firmware Profile §10.4.1 (the EV_EFI_*
 * types are EV_EFI_EVENT_BASE 0x80000000 + n, as UEFI firmware logs them). Intel TXT:
 * the Intel TXT Software Development Guide, appendix "TPM Event Log" (EVTYPE_BASE 0x400 + n), as
 * tboot's include/txt/… and EDK2/STM's Smx.h (TXT_EVTYPE_*) spell them.
 */
export const EVENT_TYPES = {
  EV_PREBOOT_CERT: 0x0,
  EV_POST_CODE: 0x1,
  EV_NO_ACTION: 0x3,
  EV_SEPARATOR: 0x4,
  EV_ACTION: 0x5,
  EV_EVENT_TAG: 0x6,
  EV_S_CRTM_CONTENTS: 0x7,
  EV_S_CRTM_VERSION: 0x8,
  EV_CPU_MICROCODE: 0x9,
  EV_PLATFORM_CONFIG_FLAGS: 0xa,
  EV_TABLE_OF_DEVICES: 0xb,
  EV_COMPACT_HASH: 0xc,
  EV_IPL: 0xd,
  EV_IPL_PARTITION_DATA: 0xe,
  EV_NONHOST_CODE: 0xf,
  EV_NONHOST_CONFIG: 0x10,
  EV_NONHOST_INFO: 0x11,
  EV_OMIT_BOOT_DEVICE_EVENTS: 0x12,
  EV_EFI_EVENT_BASE: 0x80000000,
  EV_EFI_VARIABLE_DRIVER_CONFIG: 0x80000001,
  EV_EFI_VARIABLE_BOOT: 0x80000002,
  EV_EFI_BOOT_SERVICES_APPLICATION: 0x80000003,
  EV_EFI_BOOT_SERVICES_DRIVER: 0x80000004,
  EV_EFI_RUNTIME_SERVICES_DRIVER: 0x80000005,
  EV_EFI_GPT_EVENT: 0x80000006,
  EV_EFI_ACTION: 0x80000007,
  EV_EFI_PLATFORM_FIRMWARE_BLOB: 0x80000008,
  EV_EFI_HANDOFF_TABLES: 0x80000009,
  EV_EFI_PLATFORM_FIRMWARE_BLOB2: 0x8000000a,
  EV_EFI_HANDOFF_TABLES2: 0x8000000b,
  EV_EFI_VARIABLE_BOOT2: 0x8000000c,
  EV_EFI_HCRTM_EVENT: 0x80000010,
  EV_EFI_VARIABLE_AUTHORITY: 0x800000e0,
  EV_EFI_SPDM_FIRMWARE_BLOB: 0x800000e1,
  EV_EFI_SPDM_FIRMWARE_CONFIG: 0x800000e2,
  EVTYPE_BASE: 0x400,
  EVTYPE_PCRMAPPING: 0x401,
  EVTYPE_HASH_START: 0x402,
  EVTYPE_COMBINED_HASH: 0x403,
  EVTYPE_MLE_HASH: 0x404,
  EVTYPE_BIOSAC_REG_DATA: 0x40a,
  EVTYPE_CPU_SCRTM_STAT: 0x40b,
  EVTYPE_LCP_CONTROL_HASH: 0x40c,
  EVTYPE_ELEMENTS_HASH: 0x40d,
  EVTYPE_STM_HASH: 0x40e,
  EVTYPE_OSSINITDATA_CAP_HASH: 0x40f,
  EVTYPE_SINIT_PUBKEY_HASH: 0x410,
  EVTYPE_LCP_HASH: 0x411,
  EVTYPE_LCP_DETAILS_HASH: 0x412,
  EVTYPE_LCP_AUTHORITIES_HASH: 0x413,
  EVTYPE_NV_INFO_HASH: 0x414,
  EVTYPE_CAP_VALUE: 0x4ff,
} as const;
export type EventTypeName = keyof typeof EVENT_TYPES;

const NAME_OF = new Map<number, string>(Object.entries(EVENT_TYPES).map(([n, c]) => [c, n]));

/** The numeric event type of a name or number; undefined for an unknown name. */
export function eventTypeCode(t: number | string): number | undefined {
  if (typeof t === 'number') return t;
  return (EVENT_TYPES as Record<string, number>)[t];
}

/** The name of a known event type, else the number itself. */
export function eventTypeName(code: number): string | number {
  return NAME_OF.get(code) ?? code;
}

// ---- errors and validation -----------------------------------------------------------------------

export class CelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CelError';
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const HEX = /^(?:[0-9a-f]{2})*$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function validateDigests(v: unknown, at: string): CelDigest[] {
  if (!Array.isArray(v)) throw new CelError(`${at}: digests must be an array`);
  const seen = new Set<string>();
  return v.map((d, j) => {
    const where = `${at}: digests[${j}]`;
    if (!isObject(d)) throw new CelError(`${where} must be an object`);
    const { hashAlg, digest } = d;
    if (typeof hashAlg !== 'string' || !(hashAlg in DIGEST_SIZE)) throw new CelError(`${where}: hashAlg must be one of ${CEL_HASH_ALGS.join(', ')}`);
    if (seen.has(hashAlg)) throw new CelError(`${where}: a second ${hashAlg} digest`);
    seen.add(hashAlg);
    const size = DIGEST_SIZE[hashAlg as CelHashAlg];
    if (typeof digest !== 'string' || !HEX.test(digest) || digest.length !== 2 * size) {
      throw new CelError(`${where}: digest must be ${size} bytes of lower-case hex`);
    }
    return { hashAlg: hashAlg as CelHashAlg, digest };
  });
}

function validateContent(type: string, c: unknown, at: string): CelRecord['content'] {
  if (!isObject(c)) throw new CelError(`${at}: content must be an object`);
  if (type === 'pcclient_std') {
    const { event_type, event_data } = c;
    if (typeof event_type === 'number') {
      if (!Number.isInteger(event_type) || event_type < 0 || event_type > 0xffffffff) throw new CelError(`${at}: event_type must be a UINT32`);
    } else if (typeof event_type !== 'string' || eventTypeCode(event_type) === undefined) {
      throw new CelError(`${at}: event_type must be a UINT32 or a known event type name`);
    }
    if (typeof event_data !== 'string' || !BASE64.test(event_data)) throw new CelError(`${at}: event_data must be base64`);
    return { event_type, event_data };
  }
  if (type === 'cel') {
    if (typeof c.type !== 'string' || !MGMT_TYPES.has(c.type)) throw new CelError(`${at}: cel content type must be one of ${[...MGMT_TYPES].join(', ')}`);
    return { ...c, type: c.type as CelMgmtContent['type'] };
  }
  return { ...c };
}

/** Check one record's shape; returns a fresh copy with only the known fields. */
function validateRecord(v: unknown, at: string): CelRecord {
  if (!isObject(v)) throw new CelError(`${at} must be an object`);
  if (v.nv_index !== undefined) throw new CelError(`${at}: NV index records are not supported, only PCR records`);
  if (!isIndex(v.recnum)) throw new CelError(`${at}: recnum must be a non-negative integer`);
  if (!isIndex(v.pcr) || v.pcr > 23) throw new CelError(`${at}: pcr must be an integer 0–23`);
  if (typeof v.content_type !== 'string' || !CONTENT_TYPES.has(v.content_type)) {
    throw new CelError(`${at}: content_type must be one of ${[...CONTENT_TYPES].join(', ')}`);
  }
  const digests = validateDigests(v.digests, at);
  const content = validateContent(v.content_type, v.content, at);
  return { recnum: v.recnum, pcr: v.pcr, digests, content_type: v.content_type, content } as CelRecord;
}

// ---- the log -------------------------------------------------------------------------------------

export class CelLog {
  private readonly list: CelRecord[] = [];
  private readonly nextRecnum = new Map<number, number>();

  get records(): readonly CelRecord[] {
    return this.list;
  }

  get length(): number {
    return this.list.length;
  }

  /** Append a record, numbered after the last one of its PCR. */
  append(entry: CelEntry): CelRecord {
    const recnum = this.nextRecnum.get(entry.pcr) ?? 0;
    const record = validateRecord({ ...entry, recnum }, `record ${this.list.length}`);
    this.list.push(record);
    this.nextRecnum.set(record.pcr, recnum + 1);
    return record;
  }

  /** Append a PC Client event: the digests extended (one per bank) and the event's type and data. */
  appendEvent(pcr: number, eventType: EventTypeName | number, eventData: Buffer, digests: Iterable<[CelHashAlg, Buffer]>): CelRecord {
    const code = typeof eventType === 'number' ? eventType : EVENT_TYPES[eventType];
    return this.append({
      pcr,
      digests: [...digests].map(([hashAlg, d]) => ({ hashAlg, digest: d.toString('hex') })),
      content_type: 'pcclient_std',
      content: { event_type: eventTypeName(code), event_data: eventData.toString('base64') },
    });
  }

  toJSON(): CelRecord[] {
    return this.list.map((r) => structuredClone(r));
  }

  /** The CEL-JSON text: an array of records. */
  serialize(): string {
    return JSON.stringify(this.list);
  }

  /** Parse CEL-JSON; throws CelError naming the record and field at fault. */
  static parse(text: string): CelLog {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new CelError(`not a CEL-JSON log: ${(e as Error).message}`);
    }
    return CelLog.fromRecords(value);
  }

  /** Validate already-parsed records: their shape, and record numbers 0, 1, 2 … per PCR. */
  static fromRecords(value: unknown): CelLog {
    if (!Array.isArray(value)) throw new CelError('not a CEL-JSON log: expected an array of records');
    const log = new CelLog();
    value.forEach((v, i) => {
      const r = validateRecord(v, `record ${i}`);
      const expected = log.nextRecnum.get(r.pcr) ?? 0;
      if (r.recnum !== expected) throw new CelError(`record ${i}: recnum ${r.recnum} out of sequence for PCR ${r.pcr} (expected ${expected})`);
      log.list.push(r);
      log.nextRecnum.set(r.pcr, expected + 1);
    });
    return log;
  }
}

// ---- replay --------------------------------------------------------------------------------------

const STARTUP_LOCALITY = Buffer.from('StartupLocality\0', 'latin1');

/** Whether a record changes its PCR (CEL management records and EV_NO_ACTION events do not). */
export function isExtending(r: CelRecord): boolean {
  if (r.content_type === 'cel') return false;
  if (r.content_type === 'pcclient_std') return eventTypeCode(r.content.event_type) !== EVENT_TYPES.EV_NO_ACTION;
  return true;
}

const isDrtmPcr = (pcr: number) => pcr >= 17 && pcr <= 22;

/**
 * Recompute the PCRs a log touches, in the bank of `bank`: each starts at its PC Client initial
 * value (zero; all-FF for 17–22 before a launch) and is extended with each record's digest in
 * turn. An EVTYPE_HASH_START record on PCR 17 first resets 17–22 to zero, as _TPM_Hash_Start
 * does; an EV_NO_ACTION "StartupLocality" event before any PCR 0 extension sets PCR 0's initial
 * value to the startup locality. A record without a digest in `bank` is an error.
 */
export function replay(log: CelLog | readonly CelRecord[], bank: CelHashAlg): Map<number, Buffer> {
  const records = log instanceof CelLog ? log.records : CelLog.fromRecords(log).records;
  const size = DIGEST_SIZE[bank];
  if (!size) throw new CelError(`unknown bank ${bank}`);
  const pcrs = new Map<number, Buffer>();
  const value = (pcr: number) => pcrs.get(pcr) ?? Buffer.alloc(size, isDrtmPcr(pcr) ? 0xff : 0);
  records.forEach((r, i) => {
    if (r.content_type === 'pcclient_std') {
      const type = eventTypeCode(r.content.event_type);
      if (type === EVENT_TYPES.EV_NO_ACTION) {
        const data = Buffer.from(r.content.event_data, 'base64');
        if (r.pcr === 0 && data.length === STARTUP_LOCALITY.length + 1 && data.subarray(0, STARTUP_LOCALITY.length).equals(STARTUP_LOCALITY)) {
          if (pcrs.has(0)) throw new CelError(`record ${i}: StartupLocality after PCR 0 was extended`);
          const initial = Buffer.alloc(size);
          initial[size - 1] = data[data.length - 1]!;
          pcrs.set(0, initial);
        }
        return;
      }
      if (type === EVENT_TYPES.EVTYPE_HASH_START && r.pcr === 17) {
        for (let p = 17; p <= 22; p++) pcrs.set(p, Buffer.alloc(size));
      }
    }
    if (!isExtending(r)) return;
    const d = r.digests.find((x) => x.hashAlg === bank);
    if (!d) throw new CelError(`record ${i} (PCR ${r.pcr}, recnum ${r.recnum}) has no ${bank} digest`);
    pcrs.set(r.pcr, createHash(bank).update(value(r.pcr)).update(Buffer.from(d.digest, 'hex')).digest());
  });
  return new Map([...pcrs].sort(([a], [b]) => a - b));
}
