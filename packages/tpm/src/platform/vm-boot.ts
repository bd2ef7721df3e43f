// VM measured boot: Sealkeep's vPCR layout for a VM's vTPM, the check of a VM's boot log
// (CEL-JSON, platform/cel.ts) against it, measuring a checked log into a vTPM, and the vPCR
// values a policy expects from reference digests.
//
//   PCR 0  firmware          one or more events (any PC Client type)
//   PCR 1  configuration     exactly one event: EV_PLATFORM_CONFIG_FLAGS, event_data = the canonical
//                            configuration bytes, digest = SHA-256(event_data)
//   PCR 4  kernel/boot loader EV_IPL events: digest = the image's, event_data a description
//   PCR 8  boot volume       at most one event: EV_IPL, digest = the volume's, event_data a
//                            description ("boot-volume <uuid>")
//   EV_SEPARATOR (digest = SHA-256(event_data)) may close PCRs 0 and 2–7; other PCRs up to 15 may
//   hold any PC Client event; 16–23 are not a VM's to touch.
//
// Wherever the PC Client Platform Firmware Profile defines an event type's digest as the hash of
// its event data (DIGEST_OF_DATA), every digest the record gives is recomputed and must match.

import { createHash } from 'node:crypto';
import type { TpmClient } from '../client/client.js';
import { password } from '../client/auth.js';
import { PCR_Extend, PCR_Read } from '../commands/pcr/index.js';
import { TPM_ALG } from '../wire/constants.js';
import { pcrIndices, pcrSelection } from '../wire/types/index.js';
import { CelError, CelLog, EVENT_TYPES, eventTypeCode, eventTypeName, isExtending, type CelRecord } from './cel.js';

/** Where Sealkeep's VM layout puts each measurement. */
export const VM_PCR = { firmware: 0, configuration: 1, kernel: 4, bootVolume: 8 } as const;

/** The PCRs a VM's log may extend and measureVmBoot reads back. */
export const VM_PCR_COUNT = 16;
/** The most records a VM boot log may hold (a real firmware log has tens to a few hundred). */
export const VM_LOG_MAX_RECORDS = 4096;

export class VmBootLogError extends Error {
  override name = 'VmBootLogError';
}

const T = EVENT_TYPES;
/**
 * Event types whose digest the PC Client PFP (§10.4.1, and §9.4 for the EFI types) defines as the
 * hash of the event data itself. EV_PLATFORM_CONFIG_FLAGS is in it by Sealkeep's layout too.
 * Left out: EV_EFI_VARIABLE_BOOT (its digest covers VariableData only; EV_EFI_VARIABLE_BOOT2 is the
 * whole-structure one) and EV_EFI_VARIABLE_AUTHORITY (firmware and shim differ in practice).
 */
export const DIGEST_OF_DATA: ReadonlySet<number> = new Set([
  T.EV_SEPARATOR,
  T.EV_ACTION,
  T.EV_EVENT_TAG,
  T.EV_S_CRTM_VERSION,
  T.EV_PLATFORM_CONFIG_FLAGS,
  T.EV_COMPACT_HASH,
  T.EV_OMIT_BOOT_DEVICE_EVENTS,
  T.EV_EFI_VARIABLE_DRIVER_CONFIG,
  T.EV_EFI_GPT_EVENT,
  T.EV_EFI_ACTION,
  T.EV_EFI_VARIABLE_BOOT2,
]);

/** The event types the layout's own PCRs take (EV_NO_ACTION, never extended, goes anywhere). */
const LAYOUT: Readonly<Record<number, { types: readonly number[]; what: string }>> = {
  [VM_PCR.configuration]: { types: [T.EV_PLATFORM_CONFIG_FLAGS], what: 'the VM configuration (EV_PLATFORM_CONFIG_FLAGS)' },
  [VM_PCR.kernel]: { types: [T.EV_IPL, T.EV_SEPARATOR], what: 'the kernel and boot loader (EV_IPL, EV_SEPARATOR)' },
  [VM_PCR.bootVolume]: { types: [T.EV_IPL], what: 'the boot volume (EV_IPL)' },
};

const STARTUP_LOCALITY = 'StartupLocality\0';
const at = (i: number, r: { pcr: number; recnum: number }) => `record ${i} (PCR ${r.pcr}, recnum ${r.recnum})`;
const typeOf = (r: CelRecord) => eventTypeCode((r.content as { event_type: number | string }).event_type)!;
const nameOf = (code: number) => String(eventTypeName(code));

function parse(input: unknown): readonly CelRecord[] {
  try {
    if (typeof input === 'string') return CelLog.parse(input).records;
    if (input instanceof Uint8Array) return CelLog.parse(Buffer.from(input).toString('utf8')).records;
    if (input instanceof CelLog) return CelLog.fromRecords(input.toJSON()).records;
    return CelLog.fromRecords(input).records;
  } catch (e) {
    if (e instanceof CelError) throw new VmBootLogError(`VM boot log: ${e.message}`);
    throw e;
  }
}

/** One record against the layout's per-record rules. */
function checkRecord(r: CelRecord, i: number): void {
  const where = at(i, r);
  if (r.pcr >= VM_PCR_COUNT) throw new VmBootLogError(`${where}: PCR ${r.pcr} is not a VM's to extend (0–${VM_PCR_COUNT - 1} only)`);
  if (r.content_type !== 'pcclient_std') throw new VmBootLogError(`${where}: content_type must be pcclient_std, not ${r.content_type}`);
  const type = typeOf(r);
  const data = Buffer.from(r.content.event_data, 'base64');
  if (type === T.EV_NO_ACTION) {
    if (data.subarray(0, STARTUP_LOCALITY.length).toString('latin1') === STARTUP_LOCALITY) {
      throw new VmBootLogError(`${where}: a StartupLocality event: a vTPM is started at locality 0`);
    }
    return;
  }
  const rule = LAYOUT[r.pcr];
  if (rule && !rule.types.includes(type)) throw new VmBootLogError(`${where}: PCR ${r.pcr} holds ${rule.what}, not ${nameOf(type)}`);
  if (type === T.EV_SEPARATOR && r.pcr > 7) throw new VmBootLogError(`${where}: EV_SEPARATOR closes PCRs 0–7 only`);
  if (!r.digests.some((d) => d.hashAlg === 'sha256')) throw new VmBootLogError(`${where}: no sha256 digest`);
  if (DIGEST_OF_DATA.has(type)) {
    for (const d of r.digests) {
      if (createHash(d.hashAlg).update(data).digest('hex') !== d.digest) {
        throw new VmBootLogError(`${where}: ${nameOf(type)} digest (${d.hashAlg}) is not the hash of its event_data`);
      }
    }
  }
}

/**
 * Check a VM's boot log against Sealkeep's vPCR layout. `input` is CEL-JSON text (string or
 * bytes), an array of records, or a CelLog, parsed strictly. Every record is a pcclient_std event
 * on PCRs 0–15; every extending one has a sha256 digest; a type whose digest is the hash of its
 * data (DIGEST_OF_DATA) must match it in every bank given; PCR 0 has at least one event, PCR 1
 * exactly one and PCR 8 at most one. Returns the records with their sha256 digest only — the
 * one bank measureVmBoot extends, so the log kept replays to the vTPM in every bank it lists.
 * Throws VmBootLogError naming the record (index, PCR, recnum) and the reason.
 */
export function checkVmBootLog(input: unknown): CelRecord[] {
  const records = parse(input);
  if (records.length > VM_LOG_MAX_RECORDS) throw new VmBootLogError(`VM boot log: ${records.length} records, at most ${VM_LOG_MAX_RECORDS}`);
  const count = new Map<number, number>();
  records.forEach((r, i) => {
    checkRecord(r, i);
    if (isExtending(r)) count.set(r.pcr, (count.get(r.pcr) ?? 0) + 1);
  });
  const n = (pcr: number) => count.get(pcr) ?? 0;
  if (n(VM_PCR.firmware) === 0) throw new VmBootLogError('VM boot log: no firmware event in PCR 0');
  if (n(VM_PCR.configuration) !== 1) throw new VmBootLogError(`VM boot log: PCR 1 holds exactly one event (the VM configuration), not ${n(VM_PCR.configuration)}`);
  if (n(VM_PCR.bootVolume) > 1) throw new VmBootLogError(`VM boot log: PCR 8 holds at most one event (the boot volume), not ${n(VM_PCR.bootVolume)}`);
  return records.map((r) => ({ ...structuredClone(r), digests: r.digests.filter((d) => d.hashAlg === 'sha256') }));
}

/** PCRs 0–15 of the SHA-256 bank, read consistently (PCR_Read answers at most 8 values at a time). */
export async function readVmPcrs(client: TpmClient): Promise<Record<number, string>> {
  for (let attempt = 0; attempt < 4; attempt++) {
    const out: Record<number, string> = {};
    let want = Array.from({ length: VM_PCR_COUNT }, (_, i) => i);
    let counter: number | undefined;
    let moved = false;
    while (want.length > 0) {
      const r = await client.call(PCR_Read, {}, { pcrSelectionIn: [pcrSelection(TPM_ALG.SHA256, want)] });
      const sel = r.pcrSelectionOut.find((s) => s.hash === TPM_ALG.SHA256);
      const got = sel ? pcrIndices(sel.pcrSelect).filter((i) => want.includes(i)) : [];
      if (got.length === 0 || got.length !== r.pcrValues.length) throw new Error('PCR_Read answered no SHA-256 values for the PCRs asked');
      got.forEach((pcr, k) => (out[pcr] = r.pcrValues[k]!.toString('hex')));
      want = want.filter((i) => !got.includes(i));
      if (counter !== undefined && r.pcrUpdateCounter !== counter) moved = true;
      counter = r.pcrUpdateCounter;
    }
    if (!moved) return out;
  }
  throw new Error('PCRs 0–15 kept changing while they were read');
}

/**
 * Measure a VM's boot: check the log (checkVmBootLog), extend each extending record's sha256
 * digest into its PCR in order (TPM2_PCR_Extend, SHA-256 bank only; EV_NO_ACTION records are
 * not extended), appending each record to `opts.log` once it is in the TPM, then read back PCRs
 * 0–15 of the SHA-256 bank: index → lower-case hex.
 */
export async function measureVmBoot(client: TpmClient, records: readonly CelRecord[], opts: { log?: CelLog } = {}): Promise<Record<number, string>> {
  for (const r of checkVmBootLog(records)) {
    if (isExtending(r)) {
      const digest = Buffer.from(r.digests.find((d) => d.hashAlg === 'sha256')!.digest, 'hex');
      await client.call(PCR_Extend, { pcrHandle: r.pcr }, { digests: [{ hashAlg: TPM_ALG.SHA256, digest }] }, { auth: [password()] });
    }
    opts.log?.append(r);
  }
  return readVmPcrs(client);
}

export interface VpcrReferences {
  /** Explicit expected values: bank → PCR index (decimal string) → hex. */
  pcrs?: { sha256?: Record<string, string> };
  /** Expected per-event sha256 digests (hex) of the PCRs that hold exactly one event. */
  events?: { configuration?: string; bootVolume?: string };
}

const HEX32 = /^[0-9a-fA-F]{64}$/;

/**
 * The vPCR values (SHA-256 bank) a policy expects: explicit values as given, and for an expected
 * per-event digest d of the configuration or the boot volume, SHA-256(32 zero bytes ‖ d) at its
 * layout PCR (1 or 8, which hold exactly one event). Malformed references, a PCR given both ways
 * with different values, or nothing at all throw RangeError: these are a policy's reference
 * values, not a VM's log.
 */
export function expectedVpcrs(refs: VpcrReferences): Map<number, Buffer> {
  if (typeof refs !== 'object' || refs === null) throw new RangeError('expected vPCRs: references must be an object');
  const out = new Map<number, Buffer>();
  const put = (pcr: number, value: Buffer, what: string) => {
    const had = out.get(pcr);
    if (had && !had.equals(value)) throw new RangeError(`expected vPCRs: PCR ${pcr} is ${had.toString('hex')} by one reference and ${value.toString('hex')} by ${what}`);
    out.set(pcr, value);
  };
  const explicit = refs.pcrs?.sha256;
  if (explicit !== undefined) {
    if (typeof explicit !== 'object' || explicit === null || Array.isArray(explicit)) throw new RangeError('expected vPCRs: pcrs.sha256 must map PCR indices to hex');
    for (const [key, hex] of Object.entries(explicit)) {
      if (!/^(?:[0-9]|1[0-5])$/.test(key)) throw new RangeError(`expected vPCRs: PCR ${JSON.stringify(key)} is not a VM's (0–15)`);
      if (typeof hex !== 'string' || !HEX32.test(hex)) throw new RangeError(`expected vPCRs: PCR ${key} must be 32 bytes of hex`);
      put(Number(key), Buffer.from(hex, 'hex'), `pcrs.sha256[${key}]`);
    }
  }
  for (const which of ['configuration', 'bootVolume'] as const) {
    const d = refs.events?.[which];
    if (d === undefined) continue;
    if (typeof d !== 'string' || !HEX32.test(d)) throw new RangeError(`expected vPCRs: events.${which} must be a sha256 digest in hex`);
    put(VM_PCR[which], createHash('sha256').update(Buffer.alloc(32)).update(Buffer.from(d, 'hex')).digest(), `events.${which}`);
  }
  if (out.size === 0) throw new RangeError('expected vPCRs: no reference values');
  return new Map([...out].sort(([a], [b]) => a - b));
}
