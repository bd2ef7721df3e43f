// VM measured boot: a good log measures into a vTPM to the PCRs its replay predicts; the layout
// and digest-of-data rules refuse bent logs by record; garbage is a VmBootLogError, never a crash;
// expectedVpcrs predicts PCRs 1 and 8; a managed vTPM keeps the log it measured on disk.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startedTpm } from '../testing/in-process.js';
import { CelLog, replay, type CelRecord } from './cel.js';
import { TpmManager, TpmManagerError } from './tpm-manager.js';
import { VM_PCR, VmBootLogError, checkVmBootLog, expectedVpcrs, measureVmBoot } from './vm-boot.js';
import { H, extendedOnce, goodBootLog, recordsOf, sha256 } from './vm-boot.fixture.js';

const ZERO = Buffer.alloc(32);
const refused = (input: unknown, pattern: RegExp) =>
  assert.throws(() => checkVmBootLog(input), (e: unknown) => e instanceof VmBootLogError && pattern.test(e.message), String(pattern));

/** The good log's records with record `i` changed by `bend`. */
function bent(i: number, bend: (r: CelRecord) => void): CelRecord[] {
  const records = recordsOf(goodBootLog().log);
  bend(records[i]!);
  return records;
}

test('a good boot log measures to the PCRs its replay predicts; untouched PCRs stay zero', async () => {
  const { client, internalErrors } = await startedTpm();
  const { log } = goodBootLog();
  const pcrs = await measureVmBoot(client, checkVmBootLog(log.serialize()));
  const replayed = replay(log, 'sha256');
  assert.deepEqual(Object.keys(pcrs).map(Number), [...Array(16).keys()]);
  for (let i = 0; i < 16; i++) assert.equal(pcrs[i], (replayed.get(i) ?? ZERO).toString('hex'), `PCR ${i}`);
  assert.equal(pcrs[5], ZERO.toString('hex'));
  assert.deepEqual(internalErrors, []);
});

test('checkVmBootLog takes text, bytes, records or a CelLog, and keeps only the sha256 digests', () => {
  const { log } = goodBootLog();
  const text = log.serialize();
  for (const input of [text, Buffer.from(text), JSON.parse(text), log]) {
    const records = checkVmBootLog(input);
    assert.equal(records.length, log.length);
    assert.ok(records.every((r) => r.digests.length === 1 && r.digests[0]!.hashAlg === 'sha256'));
  }
  // The checked log replays in SHA-256 exactly as the original.
  assert.deepEqual(replay(checkVmBootLog(text), 'sha256'), replay(log, 'sha256'));
});

test('a configuration event whose digest is not SHA-256(event_data) is refused, naming the record', () => {
  refused(
    bent(3, (r) => (r.digests[0]!.digest = sha256(Buffer.from('another configuration')).toString('hex'))),
    /^record 3 \(PCR 1, recnum 0\): EV_PLATFORM_CONFIG_FLAGS digest \(sha256\) is not the hash of its event_data$/,
  );
});

test('a separator with a wrong digest is refused, in any bank it gives', () => {
  refused(bent(2, (r) => (r.digests[1]!.digest = sha256(Buffer.from([0, 0, 0, 1])).toString('hex'))), /^record 2 \(PCR 0, recnum 2\): EV_SEPARATOR digest \(sha256\)/);
  refused(bent(2, (r) => (r.digests[0]!.digest = H('sha1', Buffer.from('x')).toString('hex'))), /^record 2 \(PCR 0, recnum 2\): EV_SEPARATOR digest \(sha1\)/);
  // EV_EFI_ACTION and EV_ACTION are digests of their strings too (names and numbers alike).
  const action = Buffer.from('Calling EFI Application from Boot Option');
  for (const [type, name] of [['EV_EFI_ACTION', 'EV_EFI_ACTION'], [0x80000007, 'EV_EFI_ACTION'], ['EV_ACTION', 'EV_ACTION']] as const) {
    const withAction = (digest: Buffer) => [
      ...recordsOf(goodBootLog().log),
      { recnum: 0, pcr: 5, digests: [{ hashAlg: 'sha256', digest: digest.toString('hex') }], content_type: 'pcclient_std', content: { event_type: type, event_data: action.toString('base64') } },
    ];
    assert.equal(checkVmBootLog(withAction(sha256(action))).length, 8);
    refused(withAction(sha256(Buffer.from('other'))), new RegExp(`^record 7 \\(PCR 5, recnum 0\\): ${name} digest \\(sha256\\) is not the hash of its event_data$`));
  }
});

test('layout rules: one configuration event, at most one boot volume, PCRs 0–15, pcclient_std, sha256 present', () => {
  const two = recordsOf(goodBootLog().log);
  two.splice(4, 0, { ...structuredClone(two[3]!), recnum: 1 });
  refused(two, /PCR 1 holds exactly one event \(the VM configuration\), not 2/);
  const none = recordsOf(goodBootLog().log).filter((r) => r.pcr !== 1);
  refused(none, /PCR 1 holds exactly one event \(the VM configuration\), not 0/);
  const volumes = recordsOf(goodBootLog().log);
  volumes.push({ ...structuredClone(volumes[6]!), recnum: 1 });
  refused(volumes, /PCR 8 holds at most one event \(the boot volume\), not 2/);
  refused(bent(6, (r) => (r.pcr = 17)), /^record 6 \(PCR 17, recnum 0\): PCR 17 is not a VM's to extend \(0–15 only\)$/);
  refused(bent(6, (r) => (r.pcr = 16)), /PCR 16 is not a VM's/);
  refused(bent(5, (r) => ((r.content as { event_type: string }).event_type = 'EV_POST_CODE')), /^record 5 \(PCR 4, recnum 1\): PCR 4 holds the kernel and boot loader \(EV_IPL, EV_SEPARATOR\), not EV_POST_CODE$/);
  refused(bent(3, (r) => ((r.content as { event_type: string }).event_type = 'EV_IPL')), /PCR 1 holds the VM configuration \(EV_PLATFORM_CONFIG_FLAGS\), not EV_IPL/);
  refused(bent(6, (r) => ((r.content as { event_type: string }).event_type = 'EV_COMPACT_HASH')), /PCR 8 holds the boot volume \(EV_IPL\)/);
  refused(bent(1, (r) => (r.digests = [{ hashAlg: 'sha1', digest: H('sha1', Buffer.from('fw')).toString('hex') }])), /^record 1 \(PCR 0, recnum 1\): no sha256 digest$/);
  refused(bent(1, (r) => Object.assign(r, { content_type: 'cel', content: { type: 'firmware_end' } })), /^record 1 \(PCR 0, recnum 1\): content_type must be pcclient_std, not cel$/);
  refused(recordsOf(goodBootLog().log).filter((r) => r.pcr !== 0), /no firmware event in PCR 0/);
  // A separator on PCR 9 (after the firmware's PCRs).
  const sep = recordsOf(goodBootLog().log);
  sep.push({ ...structuredClone(sep[2]!), pcr: 9, recnum: 0 });
  refused(sep, /^record 7 \(PCR 9, recnum 0\): EV_SEPARATOR closes PCRs 0–7 only$/);
  // Informational EV_NO_ACTION events are not extended and not counted; StartupLocality is refused.
  const info = recordsOf(goodBootLog().log);
  info.unshift({ recnum: 0, pcr: 1, digests: [], content_type: 'pcclient_std', content: { event_type: 'EV_NO_ACTION', event_data: Buffer.from('note').toString('base64') } });
  info.slice(1).filter((r) => r.pcr === 1).forEach((r) => (r.recnum += 1));
  assert.equal(checkVmBootLog(info).length, 8);
  const locality = recordsOf(goodBootLog().log).map((r) => (r.pcr === 0 ? { ...r, recnum: r.recnum + 1 } : r));
  locality.unshift({ recnum: 0, pcr: 0, digests: [], content_type: 'pcclient_std', content: { event_type: 'EV_NO_ACTION', event_data: Buffer.from('StartupLocality\0\x03', 'latin1').toString('base64') } });
  refused(locality, /^record 0 \(PCR 0, recnum 0\): a StartupLocality event/);
});

test('garbage is a VmBootLogError, never a crash', () => {
  const inputs: unknown[] = [
    '',
    'not json',
    '{"recnum":0}',
    '[1,2,3]',
    '[null]',
    Buffer.from([0xff, 0xfe, 0x00]),
    undefined,
    null,
    42,
    {},
    [[]],
    [{ recnum: 0, pcr: 0, digests: 'x', content_type: 'pcclient_std', content: {} }],
    [{ recnum: 0, pcr: 0, digests: [], content_type: 'pcclient_std', content: { event_type: 'EV_NOPE', event_data: '' } }],
    [{ recnum: 0, pcr: 0, digests: [], content_type: 'pcclient_std', content: { event_type: 4, event_data: '%%%' } }],
    [{ recnum: 1, pcr: 0, digests: [], content_type: 'pcclient_std', content: { event_type: 4, event_data: '' } }],
    JSON.stringify(Array.from({ length: 4097 }, (_, i) => ({ recnum: i, pcr: 0, digests: [], content_type: 'pcclient_std', content: { event_type: 3, event_data: '' } }))),
  ];
  for (const input of inputs) assert.throws(() => checkVmBootLog(input), VmBootLogError, JSON.stringify(input)?.slice(0, 80));
  refused('[', /^VM boot log: not a CEL-JSON log/);
  refused('[{"recnum":0,"pcr":0,"digests":[],"content_type":"pcclient_std","content":{"event_type":"EV_NOPE","event_data":""}}]', /^VM boot log: record 0: event_type/);
});

test('expectedVpcrs predicts what measureVmBoot produces for PCRs 1 and 8; conflicts and nothing are refused', async () => {
  const { client } = await startedTpm();
  const boot = goodBootLog();
  const pcrs = await measureVmBoot(client, boot.log.records);
  const expected = expectedVpcrs({ events: { configuration: boot.configuration.toString('hex'), bootVolume: boot.bootVolume.toString('hex') } });
  assert.deepEqual([...expected.keys()], [VM_PCR.configuration, VM_PCR.bootVolume]);
  assert.equal(expected.get(1)!.toString('hex'), pcrs[1]);
  assert.equal(expected.get(8)!.toString('hex'), pcrs[8]);
  assert.deepEqual(expected.get(8), extendedOnce(boot.bootVolume));

  // Explicit values as given (upper-case hex accepted), merged with the per-event ones.
  const both = expectedVpcrs({ pcrs: { sha256: { '0': pcrs[0]!.toUpperCase(), '1': pcrs[1]! } }, events: { configuration: boot.configuration.toString('hex') } });
  assert.deepEqual([...both].map(([k, v]) => [k, v.toString('hex')]), [[0, pcrs[0]], [1, pcrs[1]]]);
  assert.throws(() => expectedVpcrs({ pcrs: { sha256: { '1': pcrs[0]! } }, events: { configuration: boot.configuration.toString('hex') } }), /PCR 1 is .* by one reference and .* by events.configuration/);
  assert.throws(() => expectedVpcrs({}), RangeError);
  assert.throws(() => expectedVpcrs({ pcrs: { sha256: {} }, events: {} }), /no reference values/);
  assert.throws(() => expectedVpcrs({ pcrs: { sha256: { '16': pcrs[0]! } } }), /PCR "16" is not a VM's/);
  assert.throws(() => expectedVpcrs({ pcrs: { sha256: { '01': pcrs[0]! } } }), RangeError);
  assert.throws(() => expectedVpcrs({ events: { bootVolume: 'abc' } }), /events.bootVolume must be a sha256 digest/);
  assert.throws(() => expectedVpcrs(null as never), RangeError);
});

test('a managed vTPM keeps the boot it measured as its static log, which replays to its PCRs; a second boot needs a restart', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-vm-boot-'));
  try {
    const manager = await TpmManager.open({ dir, platformKey: randomBytes(32) });
    const vm = await manager.create('vm-1');
    const host = await manager.create('host', { role: 'host' });
    const { log } = goodBootLog();
    await assert.rejects(vm.measureBoot('[]'), VmBootLogError);
    assert.equal((await vm.eventLog('static')).length, 0, 'a refused log measures nothing');
    const pcrs = await vm.measureBoot(log.serialize());
    const kept = CelLog.parse(readFileSync(path.join(dir, 'vm-1.static.cel.json'), 'utf8'));
    assert.equal(kept.length, log.length);
    for (const [pcr, value] of replay(kept, 'sha256')) assert.equal(value.toString('hex'), pcrs[pcr], `PCR ${pcr}`);
    await assert.rejects(vm.measureBoot(log.serialize()), /has measured since its last start: restart\(\) it/);
    await assert.rejects(host.measureBoot(log.serialize()), TpmManagerError);
    await manager.restart('vm-1');
    assert.deepEqual(await vm.measureBoot(log.serialize()), pcrs);
    await manager.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
