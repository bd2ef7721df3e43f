// TPM2_GetCapability and TestParms in process (paging, moreData, the errors of Part 3 §30.2),
// then tpm2_getcap over mssim for every capability, compared with swtpm where both implement
// the same thing: the TPMA_CC of each command, the algorithm bits, the fixed property set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { TpmClient } from '../../client/client.js';
import { TPM_ALG, TPM_CAP, TPM_CC, TPM_ECC_CURVE, TPM_PT, TPM_RC, TPMA_CC } from '../../wire/constants.js';
import { rcParam } from '../../wire/rc.js';
import { haveTpm2Tools, withTpmServer } from '../../testing/tpm2-tools.js';
import { GetCapability, TestParms } from './index.js';
import { startedTpm as started, rcOf } from '../../testing/in-process.js';
import { startSwtpm } from '../../testing/swtpm.js';

const getCap = (client: TpmClient, capability: number, property: number, propertyCount: number) =>
  client.call(GetCapability, {}, { capability, property, propertyCount });

test('GetCapability: lists start at `property`, stop at propertyCount, and say when more remain', async () => {
  const { client } = await started();
  const cases: Array<{ cap: number; property: number; count: number; first: unknown; length: number; moreData: number }> = [
    { cap: TPM_CAP.HANDLES, property: 0, count: 100, first: 0, length: 24, moreData: 0 },
    { cap: TPM_CAP.HANDLES, property: 0, count: 5, first: 0, length: 5, moreData: 1 },
    { cap: TPM_CAP.HANDLES, property: 16, count: 100, first: 16, length: 8, moreData: 0 },
    { cap: TPM_CAP.HANDLES, property: 0, count: 0, first: undefined, length: 0, moreData: 1 },
    { cap: TPM_CAP.HANDLES, property: 0x40000000, count: 100, first: 0x40000001, length: 7, moreData: 0 },
    { cap: TPM_CAP.HANDLES, property: 0x01000000, count: 100, first: undefined, length: 0, moreData: 0 },
    { cap: TPM_CAP.ALGS, property: TPM_ALG.ECC, count: 1, first: { alg: TPM_ALG.ECC, algProperties: 0x9 }, length: 1, moreData: 1 },
    { cap: TPM_CAP.ALGS, property: TPM_ALG.SHA256, count: 1, first: { alg: TPM_ALG.SHA256, algProperties: 0x4 }, length: 1, moreData: 1 },
    { cap: TPM_CAP.ECC_CURVES, property: 0, count: 10, first: TPM_ECC_CURVE.NIST_P256, length: 2, moreData: 0 },
    { cap: TPM_CAP.ECC_CURVES, property: TPM_ECC_CURVE.NIST_P384, count: 10, first: TPM_ECC_CURVE.NIST_P384, length: 1, moreData: 0 },
    { cap: TPM_CAP.TPM_PROPERTIES, property: 0, count: 1, first: { property: TPM_PT.FAMILY_INDICATOR, value: 0x322e3000 }, length: 1, moreData: 1 },
    { cap: TPM_CAP.TPM_PROPERTIES, property: TPM_PT.PCR_COUNT, count: 1, first: { property: TPM_PT.PCR_COUNT, value: 24 }, length: 1, moreData: 1 },
    { cap: TPM_CAP.TPM_PROPERTIES, property: TPM_PT.MAX_CAP_BUFFER, count: 10, first: { property: TPM_PT.MAX_CAP_BUFFER, value: 1024 }, length: 1, moreData: 0 },
    { cap: TPM_CAP.TPM_PROPERTIES, property: TPM_PT.AUDIT_COUNTER_1 + 1, count: 10, first: undefined, length: 0, moreData: 0 },
    { cap: TPM_CAP.PP_COMMANDS, property: 0, count: 10, first: undefined, length: 0, moreData: 0 },
    { cap: TPM_CAP.AUDIT_COMMANDS, property: 0, count: 10, first: undefined, length: 0, moreData: 0 },
  ];
  for (const c of cases) {
    const r = await getCap(client, c.cap, c.property, c.count);
    const data = r.capabilityData.data as unknown[];
    const what = `cap ${c.cap} from 0x${c.property.toString(16)}`;
    assert.equal(r.capabilityData.capability, c.cap, what);
    assert.equal(data.length, c.length, what);
    assert.equal(r.moreData, c.moreData, what);
    assert.deepEqual(data[0], c.first, what);
  }
});

test('GetCapability: the PT_VAR group is reported on its own, and the fixed group stops before it', async () => {
  const { client } = await started();
  const fixed = (await getCap(client, TPM_CAP.TPM_PROPERTIES, TPM_PT.PT_FIXED, 1000)).capabilityData.data as Array<{ property: number }>;
  assert.ok(fixed.every((p) => p.property < TPM_PT.PT_VAR));
  const vars = (await getCap(client, TPM_CAP.TPM_PROPERTIES, TPM_PT.PT_VAR, 1000)).capabilityData.data as Array<{ property: number; value: number }>;
  assert.equal(vars[0]!.property, TPM_PT.PERMANENT);
  assert.equal(vars.at(-1)!.property, TPM_PT.AUDIT_COUNTER_1);
});

test('GetCapability: TPMA_CC carries cHandles, rHandle and the nv/extensive/flushed attributes', async () => {
  const { tpm, client } = await started();
  const all = (await getCap(client, TPM_CAP.COMMANDS, 0, 1000)).capabilityData.data as number[];
  assert.equal(all.length, tpm.commands.size);
  const byCode = new Map(all.map((a) => [a & TPMA_CC.commandIndex, a]));
  assert.equal(byCode.get(TPM_CC.GetCapability & 0xffff), 0x0000017a);
  assert.equal(byCode.get(TPM_CC.NV_Write & 0xffff), 0x04400137); // two handles, nv
  assert.equal(byCode.get(TPM_CC.Clear & 0xffff), 0x02c00126); // one handle, nv, extensive
  const from = (await getCap(client, TPM_CAP.COMMANDS, TPM_CC.NV_Read, 1)).capabilityData.data as number[];
  assert.equal(from[0]! & 0xffff, TPM_CC.NV_Read & 0xffff);
});

test('GetCapability: the PCR allocation and PCR properties', async () => {
  const { client } = await started();
  const pcrs = await getCap(client, TPM_CAP.PCRS, 0, 1);
  assert.deepEqual(pcrs.capabilityData.data, [TPM_ALG.SHA1, TPM_ALG.SHA256, TPM_ALG.SHA384].map((hash) => ({ hash, pcrSelect: Buffer.from('ffffff', 'hex') })));
  const props = (await getCap(client, TPM_CAP.PCR_PROPERTIES, 0, 100)).capabilityData.data as Array<{ tag: number; pcrSelect: Buffer }>;
  const tag = (t: number) => props.find((p) => p.tag === t)!.pcrSelect.toString('hex');
  // The PC Client rules of engine/pcr-banks.ts, PCR n being bit n of the bitmap.
  assert.equal(tag(0x00), 'ffff00'); // PCR_SAVE: 0-15
  assert.equal(tag(0x01), 'ffff81'); // EXTEND_L0: 0-16 and 23
  assert.equal(tag(0x02), '000081'); // RESET_L0: 16 and 23
  assert.equal(tag(0x05), 'ffffff'); // EXTEND_L2: all
  assert.equal(tag(0x0a), '00009f'); // RESET_L4: 16-20 and 23
  assert.equal(tag(0x11), '000000'); // NO_INCREMENT: none
  assert.equal(tag(0x12), '00007e'); // DRTM_RESET: 17-22
});

test('GetCapability: errors name the parameter at fault', async () => {
  const { client } = await started();
  const cases: Array<[number, number, number]> = [
    [TPM_CAP.HANDLES, 0x41000000, rcParam(TPM_RC.HANDLE, 2)],
    [TPM_CAP.HANDLES, 0x90000000, rcParam(TPM_RC.HANDLE, 2)],
    [TPM_CAP.PCRS, 1, rcParam(TPM_RC.VALUE, 2)],
    [TPM_CAP.AUTH_POLICIES, 0x81000000, rcParam(TPM_RC.VALUE, 2)],
    [TPM_CAP.VENDOR_PROPERTY, 0, rcParam(TPM_RC.VALUE, 1)],
    [0x42, 0, rcParam(TPM_RC.VALUE, 1)],
  ];
  for (const [cap, property, rc] of cases) {
    assert.equal(await rcOf(getCap(client, cap, property, 1)), rc, `cap 0x${cap.toString(16)} property 0x${property.toString(16)}`);
  }
});

test('TestParms: supported parameters pass, unsupported ones fail as unmarshaling names them', async () => {
  const { client } = await started();
  const rsa = (keyBits: number) => ({
    type: TPM_ALG.RSA,
    parameters: { symmetric: { algorithm: TPM_ALG.NULL, keyBits: 0, mode: 0 }, scheme: { scheme: TPM_ALG.NULL, details: null }, keyBits, exponent: 0 },
  });
  assert.equal(await rcOf(client.call(TestParms, {}, { parameters: rsa(2048) as never })), TPM_RC.SUCCESS);
  assert.equal(await rcOf(client.call(TestParms, {}, { parameters: rsa(1024) as never })), rcParam(TPM_RC.VALUE, 1));
});

const run = promisify(execFile);

/** tpm2_getcap output as a map of entry name → its text block. */
function blocks(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let key = '';
  for (const line of text.split('\n')) {
    if (/^\S.*:/.test(line)) key = line.replace(/:.*$/, '');
    if (key && line.trim()) out.set(key, (out.get(key) ?? '') + line + '\n');
  }
  return out;
}

/** Start swtpm on free ports, run `fn` with a tools environment for it, stop it. */
async function withSwtpm<T>(fn: (env: NodeJS.ProcessEnv) => Promise<T>): Promise<T | null> {
  const have = await run('swtpm', ['--version']).then(() => true, () => false);
  if (!have) return null;
  const sw = await startSwtpm();
  try {
    return await fn({ ...process.env, TPM2TOOLS_TCTI: sw.tcti });
  } finally {
    await sw.stop();
  }
}

test('tpm2_getcap answers every capability, shaped like swtpm', { skip: !haveTpm2Tools }, async () => {
  const caps = ['algorithms', 'commands', 'pcrs', 'properties-fixed', 'properties-variable', 'ecc-curves', 'handles-transient',
    'handles-persistent', 'handles-permanent', 'handles-pcr', 'handles-nv-index', 'handles-loaded-session', 'handles-saved-session'];
  const ours = await withTpmServer(async (tools) => {
    await tools.run('tpm2_startup', ['-c']);
    const out: Record<string, string> = {};
    for (const c of caps) out[c] = (await tools.run('tpm2_getcap', [c])).stdout;
    return out;
  });
  assert.match(ours['properties-fixed']!, /TPM2_PT_MANUFACTURER:\n {2}raw: 0x534B4550\n {2}value: "SKEP"/);
  assert.match(ours['properties-fixed']!, /TPM2_PT_FAMILY_INDICATOR:\n {2}raw: 0x322E3000/);
  assert.match(ours['properties-variable']!, /tpmGeneratedEPS: +1/);
  assert.match(ours['pcrs']!, /sha256: \[ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23 \]/);
  assert.equal(ours['handles-pcr']!.trim().split('\n').length, 24);
  assert.equal(ours['ecc-curves'], 'TPM2_ECC_NIST_P256: 0x3\nTPM2_ECC_NIST_P384: 0x4\n');

  const theirs = await withSwtpm(async (env) => {
    const out: Record<string, string> = {};
    for (const c of ['algorithms', 'commands', 'properties-fixed', 'handles-permanent']) out[c] = (await run('tpm2_getcap', [c], { env })).stdout;
    return out;
  });
  if (!theirs) return;
  // Every command both implement has the same TPMA_CC; every algorithm the same TPMA_ALGORITHM.
  for (const cap of ['commands', 'algorithms']) {
    const a = blocks(ours[cap]!);
    const b = blocks(theirs[cap]!);
    for (const [name, text] of a) if (b.has(name)) assert.equal(text, b.get(name), `${cap} ${name}`);
  }
  // The same fixed properties are reported, in the same order, and the same permanent handles.
  assert.deepEqual([...blocks(ours['properties-fixed']!).keys()], [...blocks(theirs['properties-fixed']!).keys()]);
  assert.equal(ours['handles-permanent'], theirs['handles-permanent']);
});
