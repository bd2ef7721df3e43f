// The measured launch, in process and over mssim: PCRs 17–22 before, after a good and after a
// refused launch (every expected value computed here with node:crypto, SHA-1 and SHA-256 banks);
// sealing to PCRs 17/18 of a good launch; the locality rules that keep PCR 17 out of reach of
// localities 0 and 1; the launch-control NV index; the CEL log replaying to the read and quoted
// values; tpm2_pcrread after a launch through MssimTransport.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { TpmClient } from '../client/client.js';
import { password } from '../client/auth.js';
import { InProcessTransport } from '../client/transport.js';
import { attestationKeyTemplate, storageKeyTemplate } from '../client/templates.js';
import { Tpm } from '../engine/tpm.js';
import { unmarshal } from '../wire/codec.js';
import { TPM_ALG, TPM_RC, TPM_RH, TPM_SU, TPMA_NV } from '../wire/constants.js';
import { TPM_CC } from '../wire/command-codes.js';
import { TpmError } from '../wire/rc.js';
import { TPMS_ATTEST, pcrSelection } from '../wire/types/index.js';
import { Startup } from '../commands/startup/index.js';
import { PCR_Extend, PCR_Read, PCR_Reset } from '../commands/pcr/index.js';
import { NV_ReadPublic, NV_Write } from '../commands/nv/index.js';
import { Unseal } from '../commands/object/index.js';
import { PolicyGetDigest, PolicyPCR } from '../commands/policy/index.js';
import { Quote } from '../commands/attestation/index.js';
import { primary, verifies } from '../commands/attestation/test-keys.js';
import { policySessionFor, sealTo, trialSession } from '../commands/session/session-fixture.js';
import { rcOf } from '../testing/in-process.js';
import { haveTpm2Tools, withTpmServer } from '../testing/tpm2-tools.js';
import { MssimTransport } from '../transport/mssim-client.js';
import { CelLog, replay } from './cel.js';
import { launch, type LaunchOptions } from './launch.js';
import {
  LAUNCH_POLICY_NV_ATTRIBUTES,
  LAUNCH_POLICY_NV_INDEX,
  LaunchPolicyError,
  decodeLaunchPolicy,
  encodeLaunchPolicy,
  provisionLaunchPolicy,
  readLaunchPolicy,
} from './launch-policy.js';

// ---- independent expectations ------------------------------------------------------------------

type Bank = 'sha1' | 'sha256';
const BANKS: Array<[Bank, number, number]> = [
  ['sha1', TPM_ALG.SHA1, 20],
  ['sha256', TPM_ALG.SHA256, 32],
];
const H = (alg: string, ...parts: Buffer[]) => parts.reduce((h, p) => h.update(p), createHash(alg)).digest();
const extendFrom = (alg: Bank, start: Buffer, ...measured: Buffer[]) => measured.reduce((pcr, m) => H(alg, pcr, H(alg, m)), start);
const zeros = (alg: Bank) => Buffer.alloc(alg === 'sha1' ? 20 : 32);

const SINIT = Buffer.from('SINIT ACM for the emulated chipset, build 42');
const MLE = Buffer.from('sealkeep service 1.0: code and configuration');
const EVIL = Buffer.from('a hypervisor nobody approved');
const MLE_SHA256 = H('sha256', MLE);

const good17 = (alg: Bank) => extendFrom(alg, zeros(alg), SINIT);
const good18 = (alg: Bank) => extendFrom(alg, zeros(alg), MLE);
/** PCR 17 capped: H(good17 || H("sealkeep launch refused: MLE not in launch control policy" || SHA-256(MLE))). */
const capped17 = (alg: Bank, mle: Buffer) =>
  extendFrom(alg, good17(alg), Buffer.concat([Buffer.from('sealkeep launch refused: MLE not in launch control policy'), H('sha256', mle)]));

// ---- helpers ---------------------------------------------------------------------------------

async function freshTpm() {
  const tpm = new Tpm();
  const transport = new InProcessTransport(tpm, 0);
  const client = new TpmClient(transport);
  await client.call(Startup, {}, { startupType: TPM_SU.CLEAR });
  return { tpm, transport, client };
}

async function readPcrs(client: TpmClient, alg: number, pcrs: number[]): Promise<Buffer[]> {
  const r = await client.call(PCR_Read, {}, { pcrSelectionIn: [pcrSelection(alg, pcrs)] });
  assert.equal(r.pcrValues.length, pcrs.length);
  return r.pcrValues;
}

const at = async <T>(transport: InProcessTransport, locality: number, fn: () => Promise<T>): Promise<T> => {
  const before = transport.locality;
  transport.locality = locality;
  try {
    return await fn();
  } finally {
    transport.locality = before;
  }
};

const extend17 = (client: TpmClient, pcrHandle = 17) =>
  client.call(PCR_Extend, { pcrHandle }, { digests: [{ hashAlg: TPM_ALG.SHA256, digest: Buffer.alloc(32, 1) }] }, { auth: [password()] });

const good: LaunchOptions = { sinit: SINIT, mle: MLE };

// ---- tests -------------------------------------------------------------------------------------

test('PCRs 17–22 read all-FF before the first launch, and again after a TPM reset', async () => {
  const { tpm, client } = await freshTpm();
  const drtm = [17, 18, 19, 20, 21, 22];
  for (const [name, alg, size] of BANKS) {
    assert.deepEqual(await readPcrs(client, alg, drtm), drtm.map(() => Buffer.alloc(size, 0xff)), name);
  }
  await launch(new InProcessTransport(tpm), { ...good, policy: 'any' });
  assert.deepEqual((await readPcrs(client, TPM_ALG.SHA256, [17]))[0], good17('sha256'));
  tpm.init();
  await client.call(Startup, {}, { startupType: TPM_SU.CLEAR });
  assert.deepEqual(await readPcrs(client, TPM_ALG.SHA256, drtm), drtm.map(() => Buffer.alloc(32, 0xff)));
});

test('a good launch: PCR 17 = H(0 || H(SINIT)), PCR 18 = H(0 || H(MLE)), modules in 19 and 20, 21–22 zero', async () => {
  const { transport, client } = await freshTpm();
  await provisionLaunchPolicy(client, [H('sha256', EVIL), MLE_SHA256]);
  const modA = Buffer.from('kernel module a');
  const modB = Buffer.from('initrd b');
  const modC = Buffer.from('config c');
  const r = await launch(transport, { ...good, modules: [{ name: 'a', data: modA }, modB, { name: 'c', data: modC, pcr: 20 }] });
  assert.equal(r.ok, true);
  assert.deepEqual(r.mleDigest, MLE_SHA256);
  assert.equal(transport.locality, 0, 'the caller gets its locality back');
  for (const [name, alg] of BANKS) {
    const [p17, p18, p19, p20, p21, p22] = await readPcrs(client, alg, [17, 18, 19, 20, 21, 22]);
    assert.deepEqual(p17, good17(name), `${name} PCR 17`);
    assert.deepEqual(p18, good18(name), `${name} PCR 18`);
    assert.deepEqual(p19, extendFrom(name, zeros(name), modA, modB), `${name} PCR 19`);
    assert.deepEqual(p20, extendFrom(name, zeros(name), modC), `${name} PCR 20`);
    assert.deepEqual([p21, p22], [zeros(name), zeros(name)]);
  }
  assert.deepEqual(
    r.log.records.map((x) => [x.pcr, x.content_type === 'pcclient_std' && x.content.event_type]),
    [[17, 'EVTYPE_HASH_START'], [18, 'EVTYPE_MLE_HASH'], [19, 'EV_IPL'], [19, 'EV_IPL'], [20, 'EV_IPL']],
  );
});

test('a launch outside the policy caps PCR 17, leaves 18 at zero, and reports why', async () => {
  const { transport, client } = await freshTpm();
  await provisionLaunchPolicy(client, [MLE_SHA256]);
  const r = await launch(transport, { sinit: SINIT, mle: EVIL, modules: [Buffer.from('m')] });
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.reason, 'MLE not in launch control policy');
  for (const [name, alg] of BANKS) {
    const [p17, p18, p19] = await readPcrs(client, alg, [17, 18, 19]);
    assert.deepEqual(p17, capped17(name, EVIL), `${name} PCR 17 capped`);
    assert.deepEqual([p18, p19], [zeros(name), zeros(name)], `${name}: nothing measured for a refused MLE`);
  }
  const last = r.log.records.at(-1)!;
  assert.equal(last.pcr, 17);
  assert.equal(last.content_type === 'pcclient_std' && last.content.event_type, 'EVTYPE_CAP_VALUE');
});

test('an explicit policy overrides the NV index; no policy anywhere refuses; "any" admits any MLE', async () => {
  const { transport, client } = await freshTpm();
  const noIndex = await launch(transport, good);
  assert.equal(noIndex.ok, false);
  assert.match(!noIndex.ok ? noIndex.reason : '', /no launch control policy in NV index 0x1c10110/);

  assert.equal((await launch(transport, { ...good, policy: [MLE_SHA256] })).ok, true);
  assert.equal((await launch(transport, { ...good, policy: [H('sha256', EVIL)] })).ok, false);
  assert.deepEqual((await readPcrs(client, TPM_ALG.SHA256, [17]))[0], capped17('sha256', MLE));
  assert.equal((await launch(transport, { ...good, policy: [] })).ok, false);
  assert.equal((await launch(transport, { sinit: SINIT, mle: EVIL, policy: 'any' })).ok, true);

  await provisionLaunchPolicy(client, [H('sha256', EVIL)]);
  assert.equal((await launch(transport, good)).ok, false);
  assert.equal((await launch(transport, { ...good, policy: [MLE_SHA256] })).ok, true);
});

test('a module PCR outside 19–22 is refused before anything is measured', async () => {
  const { transport } = await freshTpm();
  await assert.rejects(launch(transport, { ...good, policy: 'any', modules: [{ name: 'x', data: Buffer.alloc(1), pcr: 17 }] }), /PCR 17 is not one of 19–22/);
});

test('sealed to PolicyPCR over 17,18 of a good launch: unseals after a good launch, not after a refused one', async () => {
  const { transport, client } = await freshTpm();
  await provisionLaunchPolicy(client, [MLE_SHA256]);
  const srk = await primary(client, storageKeyTemplate('eccP256'));
  const sel = [pcrSelection(TPM_ALG.SHA256, [17, 18])];

  // The policy, computed before any launch from the expected values alone.
  const pcrDigest = H('sha256', good17('sha256'), good18('sha256'));
  const trial = await trialSession(client);
  await client.call(PolicyPCR, { policySession: trial.handle }, { pcrDigest, pcrs: sel });
  const policy = (await client.call(PolicyGetDigest, { policySession: trial.handle }, {})).policyDigest;
  const u32 = (v: number) => Buffer.from([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
  const selBytes = Buffer.from('00000001000b03000006', 'hex'); // TPML_PCR_SELECTION: sha256, PCRs 17 and 18
  assert.deepEqual(policy, H('sha256', Buffer.alloc(32), u32(TPM_CC.PolicyPCR), selBytes, pcrDigest));

  const secret = randomBytes(32);
  const sealed = await sealTo(client, srk.objectHandle, secret, policy);
  const unseal = async () => {
    const s = await policySessionFor(client);
    await client.call(PolicyPCR, { policySession: s.handle }, { pcrDigest: Buffer.alloc(0), pcrs: sel });
    return (await client.call(Unseal, { itemHandle: sealed.handle }, {}, { auth: [s], names: [sealed.name] })).outData;
  };
  const policyFails = async () => {
    const rc = await rcOf(unseal());
    assert.equal(new TpmError(rc).is(TPM_RC.POLICY_FAIL), true, `expected TPM_RC_POLICY_FAIL, got 0x${rc.toString(16)}`);
  };

  await policyFails(); // before any launch: 17/18 are all-FF
  assert.equal((await launch(transport, good)).ok, true);
  assert.deepEqual(await unseal(), secret);

  assert.equal((await launch(transport, { sinit: SINIT, mle: EVIL })).ok, false);
  await policyFails();
  // The expected digest is refused outright by PolicyPCR in a real session.
  const s = await policySessionFor(client);
  assert.equal(new TpmError(await rcOf(client.call(PolicyPCR, { policySession: s.handle }, { pcrDigest, pcrs: sel }))).is(TPM_RC.VALUE), true);
  // Extending 18 with the good MLE from the MLE's locality does not help: 17 is capped.
  await at(transport, 2, () =>
    client.call(PCR_Extend, { pcrHandle: 18 }, { digests: [{ hashAlg: TPM_ALG.SHA256, digest: MLE_SHA256 }, { hashAlg: TPM_ALG.SHA1, digest: H('sha1', MLE) }] }, { auth: [password()] }),
  );
  assert.deepEqual((await readPcrs(client, TPM_ALG.SHA256, [18]))[0], good18('sha256'));
  await policyFails();

  // Only a new good launch brings the values back.
  assert.equal((await launch(transport, good)).ok, true);
  assert.deepEqual(await unseal(), secret);
});

test('PCR 17 cannot be reset or extended from locality 0 or 1 (nor reset from 2 or 3)', async () => {
  const { transport, client } = await freshTpm();
  await launch(transport, { ...good, policy: 'any' });
  const before = await readPcrs(client, TPM_ALG.SHA256, [17, 18]);
  for (const locality of [0, 1]) {
    for (const pcr of [17, 18]) {
      assert.equal(await rcOf(at(transport, locality, () => extend17(client, pcr))), TPM_RC.LOCALITY, `extend ${pcr} at locality ${locality}`);
    }
  }
  for (const locality of [0, 1, 2, 3]) {
    for (const pcr of [17, 18]) {
      assert.equal(await rcOf(at(transport, locality, () => client.call(PCR_Reset, { pcrHandle: pcr }, {}, { auth: [password()] }))), TPM_RC.LOCALITY, `reset ${pcr} at locality ${locality}`);
    }
  }
  assert.deepEqual(await readPcrs(client, TPM_ALG.SHA256, [17, 18]), before, 'nothing changed');
  // Locality 4 (the DRTM's own) may reset, and 2 may extend.
  await at(transport, 4, () => client.call(PCR_Reset, { pcrHandle: 17 }, {}, { auth: [password()] }));
  assert.deepEqual((await readPcrs(client, TPM_ALG.SHA256, [17]))[0], Buffer.alloc(32));
  await at(transport, 2, () => extend17(client));
});

test('a second launch resets 17–22 again', async () => {
  const { transport, client } = await freshTpm();
  await provisionLaunchPolicy(client, [MLE_SHA256]);
  await launch(transport, { ...good, modules: [Buffer.from('m1'), { name: 'm2', data: Buffer.from('m2'), pcr: 22 }] });
  await at(transport, 2, () => extend17(client, 21));
  const again = await launch(transport, good);
  assert.equal(again.ok, true);
  for (const [name, alg] of BANKS) {
    assert.deepEqual(await readPcrs(client, alg, [17, 18, 19, 20, 21, 22]), [good17(name), good18(name), ...[0, 0, 0, 0].map(() => zeros(name))], name);
  }
  // A refused launch followed by a good one is also clean.
  await launch(transport, { sinit: SINIT, mle: EVIL });
  await launch(transport, good);
  assert.deepEqual(await readPcrs(client, TPM_ALG.SHA256, [17, 18]), [good17('sha256'), good18('sha256')]);
});

describe('the DRTM CEL log', () => {
  const drtm = [17, 18, 19, 20, 21, 22];

  test('replays to exactly the PCR values read and quoted, in both banks, also after a JSON round trip', async () => {
    const { tpm, transport, client } = await freshTpm();
    await provisionLaunchPolicy(client, [MLE_SHA256]);
    const r = await launch(transport, { ...good, modules: [Buffer.from('a'), Buffer.from('b'), { name: 'c', data: Buffer.from('c'), pcr: 21 }] });
    const parsed = CelLog.parse(r.log.serialize());
    for (const [name, alg] of BANKS) {
      const read = await readPcrs(client, alg, drtm);
      for (const log of [r.log, parsed]) assert.deepEqual([...replay(log, name).entries()], drtm.map((p, i) => [p, read[i]]), name);
    }
    const ak = await primary(client, attestationKeyTemplate('eccP256'), TPM_RH.ENDORSEMENT);
    const sel = [pcrSelection(TPM_ALG.SHA256, drtm)];
    const q = await client.call(Quote, { signHandle: ak.objectHandle }, { qualifyingData: Buffer.from('n0nce'), inScheme: { scheme: TPM_ALG.NULL, details: null }, PCRselect: sel }, { auth: [password()] });
    assert.ok(verifies(tpm, ak.objectHandle, q.quoted, q.signature));
    const quoted = (unmarshal(TPMS_ATTEST, q.quoted).attested as { pcrDigest: Buffer }).pcrDigest;
    assert.deepEqual(quoted, H('sha256', ...replay(parsed, 'sha256').values()));
  });

  test('a refused launch replays too, cap included', async () => {
    const { transport, client } = await freshTpm();
    const r = await launch(transport, { sinit: SINIT, mle: EVIL, policy: [MLE_SHA256] });
    for (const [name, alg] of BANKS) {
      assert.deepEqual(replay(r.log, name).get(17), (await readPcrs(client, alg, [17]))[0]);
    }
  });

  test('a tampered or reordered log does not replay to the PCR values', async () => {
    const { transport, client } = await freshTpm();
    const r = await launch(transport, { ...good, policy: 'any', modules: [Buffer.from('first'), Buffer.from('second')] });
    const read = await readPcrs(client, TPM_ALG.SHA256, drtm);
    const records = JSON.parse(r.log.serialize());
    const matches = (rs: unknown) => {
      const replayed = replay(CelLog.fromRecords(rs), 'sha256');
      return drtm.every((p, i) => replayed.get(p)?.equals(read[i]!));
    };
    assert.equal(matches(records), true);

    // A changed digest (the MLE's).
    const tampered = structuredClone(records);
    tampered[1].digests.find((d: { hashAlg: string }) => d.hashAlg === 'sha256').digest = H('sha256', EVIL).toString('hex');
    assert.equal(matches(tampered), false);

    // The two module records swapped, and renumbered so the log is well formed.
    const reordered = structuredClone(records);
    [reordered[2], reordered[3]] = [reordered[3], reordered[2]];
    [reordered[2].recnum, reordered[3].recnum] = [0, 1];
    assert.equal(matches(reordered), false);

    // Swapped and not renumbered: the record numbers give it away.
    const swapped = structuredClone(records);
    [swapped[2], swapped[3]] = [swapped[3], swapped[2]];
    assert.throws(() => CelLog.fromRecords(swapped), /recnum 1 out of sequence for PCR 19/);

    // A record left out.
    assert.equal(matches(records.filter((_: unknown, i: number) => i !== 3)), false);
  });
});

describe('the launch-control policy index', () => {
  test('encoding: version byte, count, SHA-256 digests; malformed contents are refused', () => {
    const a = Buffer.alloc(32, 0xaa);
    const b = Buffer.alloc(32, 0xbb);
    const enc = encodeLaunchPolicy([a, b]);
    assert.deepEqual(enc, Buffer.concat([Buffer.from([1, 2]), a, b]));
    assert.deepEqual(decodeLaunchPolicy(enc), [a, b]);
    assert.deepEqual(decodeLaunchPolicy(Buffer.from([1, 0])), []);
    assert.throws(() => decodeLaunchPolicy(Buffer.from([2, 0])), /version 2 is not supported/);
    assert.throws(() => decodeLaunchPolicy(enc.subarray(0, 40)), /must be 66 bytes, is 40/);
    assert.throws(() => decodeLaunchPolicy(Buffer.from([1])), /too short/);
    assert.throws(() => encodeLaunchPolicy([Buffer.alloc(20)]), LaunchPolicyError);
    assert.throws(() => encodeLaunchPolicy([a, a]), /repeats/);
  });

  test('platform-created with ppwrite|ppread|ownerread|authread|no_da; the owner cannot write it; reprovisioning replaces it', async () => {
    const { client, tpm } = await freshTpm();
    assert.equal(await readLaunchPolicy(client), null);
    await provisionLaunchPolicy(tpm, [MLE_SHA256]);
    const pub = (await client.call(NV_ReadPublic, { nvIndex: LAUNCH_POLICY_NV_INDEX }, {})).nvPublic;
    assert.equal(pub.attributes, (LAUNCH_POLICY_NV_ATTRIBUTES | TPMA_NV.WRITTEN) >>> 0);
    assert.equal(pub.attributes & TPMA_NV.PLATFORMCREATE, TPMA_NV.PLATFORMCREATE);
    assert.equal(pub.dataSize, 34);
    assert.deepEqual(await readLaunchPolicy(client), [MLE_SHA256]);
    const ownerWrite = client.call(NV_Write, { authHandle: TPM_RH.OWNER, nvIndex: LAUNCH_POLICY_NV_INDEX }, { data: Buffer.from([1, 0]), offset: 0 }, { auth: [password()] });
    assert.equal(await rcOf(ownerWrite), TPM_RC.NV_AUTHORIZATION);
    await provisionLaunchPolicy(client, [MLE_SHA256, H('sha256', EVIL)]);
    assert.deepEqual(await readLaunchPolicy(client), [MLE_SHA256, H('sha256', EVIL)]);
    // A platform auth the TPM does not have is refused.
    await assert.rejects(provisionLaunchPolicy(client, [], Buffer.from('wrong')), /AUTH_FAIL|BAD_AUTH|authorization/i);
  });

  test('a malformed index refuses the launch with the reason', async () => {
    const { transport, client } = await freshTpm();
    await provisionLaunchPolicy(client, [MLE_SHA256]);
    await client.call(NV_Write, { authHandle: TPM_RH.PLATFORM, nvIndex: LAUNCH_POLICY_NV_INDEX }, { data: Buffer.from([9]), offset: 0 }, { auth: [password()] });
    const r = await launch(transport, good);
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.reason : '', /launch control policy unreadable \(launch policy version 9/);
  });
});

describe('over mssim with tpm2-tools', { skip: !haveTpm2Tools && 'tpm2-tools not installed' }, () => {
  test('tpm2_pcrread sha256:17,18 after a launch through MssimTransport shows the expected values', async () => {
    await withTpmServer(async (tools, _tpm, server) => {
      await tools.run('tpm2_startup', ['-c']);
      const ff = 'F'.repeat(64);
      assert.match((await tools.run('tpm2_pcrread', ['sha256:17,18'])).stdout, new RegExp(`17\\s*:\\s*0x${ff}[\\s\\S]*18\\s*:\\s*0x${ff}`));

      const t = await MssimTransport.connect(`mssim://127.0.0.1:${server.commandPort}`);
      try {
        await provisionLaunchPolicy(new TpmClient(t), [MLE_SHA256]);
        const r = await launch(t, good);
        assert.equal(r.ok, true);
        assert.equal(t.locality, 0);
      } finally {
        await t.close();
      }
      const hex = (b: Buffer) => b.toString('hex').toUpperCase();
      const out = (await tools.run('tpm2_pcrread', ['sha1:17,18+sha256:17,18'])).stdout;
      assert.match(out, new RegExp(`sha1:\\s*17\\s*:\\s*0x${hex(good17('sha1'))}\\s*18\\s*:\\s*0x${hex(good18('sha1'))}`));
      assert.match(out, new RegExp(`sha256:\\s*17\\s*:\\s*0x${hex(good17('sha256'))}\\s*18\\s*:\\s*0x${hex(good18('sha256'))}`));

      // The tools see the platform's index and its allowlist; the owner cannot write it.
      const pub = (await tools.run('tpm2_nvreadpublic', ['0x1c10110'])).stdout;
      assert.match(pub, /ppwrite/);
      assert.match(pub, /platformcreate/);
      await tools.run('tpm2_nvread', ['0x1c10110', '-C', '0x1c10110', '-o', 'lcp.bin']);
      const { readFileSync } = await import('node:fs');
      assert.deepEqual(decodeLaunchPolicy(readFileSync(tools.file('lcp.bin'))), [MLE_SHA256]);
      assert.match(await tools.fails('tpm2_nvwrite', ['0x1c10110', '-C', 'o', '-i', 'lcp.bin']), /0x149|NV_AUTHORIZATION|authorization/i);

      // A refused launch over the same transport caps 17 as the tools see it.
      const t2 = await MssimTransport.connect(`mssim://127.0.0.1:${server.commandPort}`);
      try {
        assert.equal((await launch(t2, { sinit: SINIT, mle: EVIL })).ok, false);
      } finally {
        await t2.close();
      }
      assert.match((await tools.run('tpm2_pcrread', ['sha256:17'])).stdout, new RegExp(`17\\s*:\\s*0x${hex(capped17('sha256', EVIL))}`));
    });
  });
});
