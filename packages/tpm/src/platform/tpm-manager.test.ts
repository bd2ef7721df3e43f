// The TPM manager: ids that cannot leave the directory, the life cycle (create, suspend, resume,
// power loss, corruption, destroy), the roles' locality and DRTM rules in process and over mssim,
// and tpm2-tools reading two vTPMs' PCRs and EK certificates on their own ports.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TpmError } from '../wire/rc.js';
import { TPM_RC } from '../wire/constants.js';
import { TpmClient } from '../client/client.js';
import { MssimTransport } from '../transport/mssim-client.js';
import { Tpm2Tools, haveTpm2Tools } from '../testing/tpm2-tools.js';
import { ReadPublic } from '../commands/object/index.js';
import { TpmManager, TpmManagerError, ROLE_RULES } from './tpm-manager.js';
import { StateFileError } from './state-file.js';
import { replay } from './cel.js';
import { ManufacturerCa } from './manufacturer-ca.js';
import { createEndorsementKey, EK_CERT_INDEX } from './endorsement.js';
import { AK_HANDLE, createPersistentAk, extend, readPcrs } from './tpm-manager.fixture.js';

const sha256 = (...parts: Buffer[]) => parts.reduce((h, p) => h.update(p), createHash('sha256')).digest();
const extended = (d: Buffer, from = Buffer.alloc(32)) => sha256(from, d);
const ZERO = Buffer.alloc(32);
const FF = Buffer.alloc(32, 0xff);

const scratch: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-manager-'));
  scratch.push(dir);
  return dir;
}
after(() => scratch.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function openManager(dir = tempDir(), platformKey = randomBytes(32), counterDir?: string) {
  return { manager: await TpmManager.open({ dir, platformKey, counterDir }), dir, platformKey };
}

/** The files of `id` in `dir`: its own ("<id>.…") and the state writer's temporaries (".<id>.…"). */
const filesOf = (dir: string, id: string) => readdirSync(dir).filter((n) => n.startsWith(`${id}.`) || n.startsWith(`.${id}.`));

describe('ids', () => {
  const INVALID = ['', '.', '..', '../escape', 'a/b', 'a\\b', '/abs', 'a.b', '.hidden', '-leading', 'x'.repeat(65), 'sp ace', 'nul\0', 'ü'];
  const VALID = ['host', 'vm-0001', 'VM_2', '3f2504e0-4f89-11d3-9a0c-0305e82c3301', 'x'.repeat(64)];

  test('ids that could name a path outside the directory, or another instance’s files, are refused', async () => {
    const { manager, dir } = await openManager();
    for (const id of INVALID) {
      assert.throws(() => manager.create(id), TpmManagerError, JSON.stringify(id));
      assert.throws(() => manager.get(id), TpmManagerError, JSON.stringify(id));
      assert.throws(() => manager.suspend(id), TpmManagerError, JSON.stringify(id));
      assert.throws(() => manager.destroy(id), TpmManagerError, JSON.stringify(id));
      await assert.rejects(manager.serve(id), TpmManagerError, JSON.stringify(id));
    }
    assert.deepEqual(readdirSync(dir), []);
    assert.deepEqual(readdirSync(path.dirname(dir)).filter((n) => n === 'escape'), []);
    for (const id of VALID) await manager.create(id);
    assert.deepEqual(manager.list().map((v) => v.id), [...VALID].sort());
    await manager.close();
  });
});

describe('life cycle', () => {
  test('create, suspend, resume: PCRs 0–15 and the persistent AK come back; the role survives a reopen', async () => {
    const { manager, dir, platformKey } = await openManager();
    const host = await manager.create('host', { role: 'host' });
    const vm = await manager.create('vm-1');
    assert.equal(host.role, 'host');
    assert.equal(vm.role, 'vtpm');
    await assert.rejects(manager.create('host-2', { role: 'host' }), /already a host TPM \(host\)/);
    await assert.rejects(manager.create('vm-1'), /TPM vm-1 already exists/);
    await assert.rejects(manager.get('vm-2'), /no TPM vm-2/);

    const m = sha256(Buffer.from('vm-1 kernel'));
    await extend(vm.client(), 9, m);
    await extend(vm.client(), 16, m);
    const ak = await createPersistentAk(vm.client());
    assert.deepEqual(
      readdirSync(dir).filter((n) => !n.startsWith('.')).sort(),
      ['host.counter', 'host.host.tpmstate', 'vm-1.counter', 'vm-1.vtpm.tpmstate'],
    );

    await manager.suspend('vm-1');
    assert.deepEqual(manager.list(), [
      { id: 'host', role: 'host', loaded: true },
      { id: 'vm-1', role: 'vtpm', loaded: false },
    ]);
    // What was handed out before the suspend no longer reaches the TPM.
    await assert.rejects(vm.client().call(ReadPublic, { objectHandle: AK_HANDLE }, {}), /suspended or destroyed/);

    const resumed = await manager.get('vm-1');
    assert.notEqual(resumed, vm);
    assert.deepEqual(await readPcrs(resumed.client(), [9, 16]), [extended(m), ZERO]);
    assert.equal(resumed.tpm.clock.restartCount, 1);
    assert.deepEqual((await resumed.client().call(ReadPublic, { objectHandle: AK_HANDLE }, {})).name, ak.name);
    await manager.close();

    const reopened = await TpmManager.open({ dir, platformKey });
    assert.deepEqual(reopened.list(), [
      { id: 'host', role: 'host', loaded: false },
      { id: 'vm-1', role: 'vtpm', loaded: false },
    ]);
    assert.equal(reopened.hostId(), 'host');
    assert.equal((await reopened.get('host')).role, 'host');
    await reopened.close();
  });

  test('a power loss (no suspend) gives a TPM Reset on the next load: PCRs cleared, resetCount + 1', async () => {
    const { manager, dir, platformKey } = await openManager();
    const vm = await manager.create('vm-1');
    const resetCount = vm.tpm.clock.resetCount;
    await extend(vm.client(), 9, sha256(Buffer.from('boot')));
    await createPersistentAk(vm.client());
    await vm.flush();
    // The first manager is gone without suspending (it is never closed: a crashed process).
    const after = await TpmManager.open({ dir, platformKey });
    const loaded = await after.get('vm-1');
    assert.deepEqual(await readPcrs(loaded.client(), [9]), [ZERO]);
    assert.equal(loaded.tpm.clock.resetCount, resetCount + 1);
    assert.ok(loaded.tpm.objects.has(AK_HANDLE), 'persistent objects survive a power loss');
    await after.close();
  });

  test('concurrent get() of a suspended instance loads it once', async () => {
    const { manager } = await openManager();
    await manager.create('vm-1');
    await manager.suspend('vm-1');
    const [a, b, c] = await Promise.all([manager.get('vm-1'), manager.get('vm-1'), manager.get('vm-1')]);
    assert.equal(a, b);
    assert.equal(b, c);
    await manager.close();
  });

  test('a corrupted state file is refused with a clear error; the other instances are unaffected', async () => {
    const { manager, dir } = await openManager();
    await manager.create('vm-1');
    await manager.create('vm-2');
    await manager.suspend('vm-1');
    const file = path.join(dir, 'vm-1.vtpm.tpmstate');
    const bytes = readFileSync(file);
    bytes[bytes.length - 40]! ^= 0x01;
    writeFileSync(file, bytes);
    await assert.rejects(manager.get('vm-1'), (e: unknown) => e instanceof StateFileError && /failed authentication/.test(e.message));
    assert.equal(manager.list().find((v) => v.id === 'vm-1')?.loaded, false);
    assert.deepEqual(await readPcrs((await manager.get('vm-2')).client(), [16]), [ZERO]);
    await manager.close();
  });

  test('destroy erases the state and counter files: the keys are gone, a new TPM of that id has new seeds', async () => {
    const dir = tempDir();
    const counterDir = tempDir();
    const { manager } = await openManager(dir, randomBytes(32), counterDir);
    const vm = await manager.create('vm-1');
    await manager.create('vm-10'); // shares a prefix, not files
    const ek = (await createEndorsementKey(vm.client(), 'eccP256')).export({ format: 'der', type: 'spki' });
    const server = await manager.serve('vm-1');
    assert.equal(filesOf(dir, 'vm-1').length, 1);
    assert.equal(filesOf(counterDir, 'vm-1').length, 1);

    await manager.destroy('vm-1');
    assert.deepEqual(filesOf(dir, 'vm-1'), []);
    assert.deepEqual(filesOf(counterDir, 'vm-1'), []);
    assert.equal(filesOf(dir, 'vm-10').length, 1);
    assert.ok(vm.closed);
    await assert.rejects(manager.get('vm-1'), /no TPM vm-1/);
    await assert.rejects(MssimTransport.connect(`127.0.0.1:${server.commandPort}`), /ECONNREFUSED/);
    assert.deepEqual(manager.list().map((v) => v.id), ['vm-10']);

    const again = await manager.create('vm-1');
    const ek2 = (await createEndorsementKey(again.client(), 'eccP256')).export({ format: 'der', type: 'spki' });
    assert.notDeepEqual(ek2, ek);
    await manager.close();
    assert.ok(!existsSync(path.join(dir, 'vm-1.counter')));
  });
});

describe('roles: localities and DRTM', () => {
  const sinit = Buffer.from('SINIT ACM image');
  const pcr17AfterLaunch = extended(sha256(sinit));

  test('the host launches: its DRTM log is kept beside the static one and replays to PCR 17/18; destroy removes both', async () => {
    const { manager, dir } = await openManager();
    const host = await manager.create('host', { role: 'host' });
    const mle = Buffer.from('sealkeep service build 1');
    const result = await host.launch({ sinit, mle, policy: [createHash('sha256').update(mle).digest()] });
    assert.equal(result.ok, true);
    assert.ok(existsSync(path.join(dir, 'host.drtm.cel.json')));
    const kept = await host.eventLog('drtm');
    const pcrs = replay(kept, 'sha256');
    assert.deepEqual([pcrs.get(17), pcrs.get(18)], await readPcrs(host.client(), [17, 18]));
    assert.equal((await host.eventLog('static')).toJSON().length, 0, 'nothing measured statically yet');
    const vm = await manager.create('vm-1');
    await assert.rejects(vm.launch({ sinit, mle, policy: 'any' }), /vTPM: it has no dynamic launch/);
    await manager.destroy('host');
    assert.deepEqual(filesOf(dir, 'host'), []);
    await manager.close();
  });

  test('in process: a vTPM offers localities 0–3 and no dynamic launch; the host TPM 0–4 and DRTM', async () => {
    const { manager } = await openManager();
    const host = await manager.create('host', { role: 'host' });
    const vm = await manager.create('vm-1');
    assert.deepEqual(ROLE_RULES.vtpm, { maxLocality: 3, drtm: false });
    assert.throws(() => vm.client(4), /vtpm TPM vm-1 offers localities 0–3, not 4/);
    const t = vm.transport(3);
    assert.throws(() => (t.locality = 4), TpmManagerError);
    await assert.rejects(vm.transport().dynamicLaunch(sinit), /vtpm TPM vm-1 has no dynamic launch/);
    assert.deepEqual(await readPcrs(vm.client(), [17]), [FF]);

    await host.transport(4).dynamicLaunch(sinit);
    assert.deepEqual(await readPcrs(host.client(), [17]), [pcr17AfterLaunch]);
    await manager.close();
  });

  test('over mssim: the same rules on each instance’s port pair', async () => {
    const { manager } = await openManager();
    await manager.create('host', { role: 'host' });
    await manager.create('vm-1');
    const hostServer = await manager.serve('host');
    const vmServer = await manager.serve('vm-1');
    assert.deepEqual(manager.list().map((v) => v.port), [hostServer.commandPort, vmServer.commandPort]);
    const connect = (port: number, locality = 0) => MssimTransport.connect(`127.0.0.1:${port}`, { platform: true, locality });

    const vm4 = await connect(vmServer.commandPort, 4);
    await assert.rejects(readPcrs(new TpmClient(vm4), [17]), (e: unknown) => e instanceof TpmError && e.is(TPM_RC.LOCALITY));
    vm4.locality = 0;
    await vm4.dynamicLaunch(sinit);
    assert.deepEqual(await readPcrs(new TpmClient(vm4), [17]), [FF]);
    await vm4.close();

    const host4 = await connect(hostServer.commandPort, 4);
    await host4.dynamicLaunch(sinit);
    assert.deepEqual(await readPcrs(new TpmClient(host4), [17]), [pcr17AfterLaunch]);
    await host4.close();
    await manager.close();
  });
});

describe('tpm2-tools on vTPMs, a port pair each', { skip: !haveTpm2Tools && 'tpm2-tools not installed' }, () => {
  let manager: TpmManager;
  let ca: ManufacturerCa;
  const tools: Record<string, Tpm2Tools> = {};
  const ids = ['vm-a', 'vm-b'];

  before(async () => {
    ({ manager } = await openManager());
    ca = await ManufacturerCa.create();
    for (const id of ids) {
      await manager.create(id, { ca });
      const server = await manager.serve(id);
      tools[id] = new Tpm2Tools(`mssim:host=127.0.0.1,port=${server.commandPort}`, tempDir());
    }
  });
  after(() => manager.close());

  test('tpm2_getekcertificate and tpm2_nvread: each vTPM its own EK, certified by the manufacturer CA', async () => {
    const caKey = new X509Certificate(ca.certificate).publicKey;
    const eks: Buffer[] = [];
    for (const id of ids) {
      const t = tools[id]!;
      await t.run('tpm2_getekcertificate', ['-o', 'rsa.der', '-o', 'ecc.der']);
      await t.run('tpm2_nvread', [`0x${EK_CERT_INDEX.rsa2048.toString(16).toUpperCase()}`, '-C', 'o', '-o', 'nv-rsa.der']);
      const rsa = readFileSync(t.file('rsa.der'));
      assert.deepEqual(readFileSync(t.file('nv-rsa.der')), rsa);
      for (const [der, alg] of [
        [rsa, 'rsa2048'],
        [readFileSync(t.file('ecc.der')), 'eccP256'],
      ] as const) {
        const cert = new X509Certificate(der);
        assert.ok(cert.verify(caKey), `${id} ${alg} EK certificate signed by the CA`);
        const ek = await createEndorsementKey((await manager.get(id)).client(), alg);
        assert.deepEqual(cert.publicKey.export({ format: 'der', type: 'spki' }), ek.export({ format: 'der', type: 'spki' }), `${id} ${alg} EK`);
        eks.push(ek.export({ format: 'der', type: 'spki' }));
      }
    }
    assert.equal(new Set(eks.map((k) => k.toString('hex'))).size, 4, 'two vTPMs, two EKs each, all different');
  });

  test('tpm2_pcrread: independent PCRs; a vTPM suspended while served is resumed when the tools connect', async () => {
    const [a, b] = [tools['vm-a']!, tools['vm-b']!];
    const d = sha256(Buffer.from('vm-a boot volume'));
    await a.run('tpm2_pcrextend', [`9:sha256=${d.toString('hex')}`, `16:sha256=${d.toString('hex')}`]);
    const read = async (t: Tpm2Tools, pcr: number) => {
      const out = (await t.run('tpm2_pcrread', [`sha256:${pcr}`])).stdout;
      const m = new RegExp(`${pcr}\\s*:\\s*0x([0-9A-F]{64})`).exec(out);
      assert.ok(m, out);
      return Buffer.from(m[1]!, 'hex');
    };
    assert.deepEqual(await read(a, 16), extended(d));
    assert.deepEqual(await read(b, 16), ZERO);
    assert.deepEqual(await read(b, 9), ZERO);
    assert.deepEqual(await read(a, 17), FF);

    await manager.suspend('vm-a');
    assert.equal(manager.list().find((v) => v.id === 'vm-a')?.loaded, false);
    assert.deepEqual(await read(a, 9), extended(d));
    assert.deepEqual(await read(a, 16), ZERO); // PCR 16 is not saved by Shutdown(STATE)
    assert.equal(manager.list().find((v) => v.id === 'vm-a')?.loaded, true);
  });
});
