// sealkeep-tpm --state <dir> driven by tpm2-tools over mssim across process restarts: NV data,
// persistent keys and counters survive; tpm2_quote's clockInfo shows the TPM Reset after a stop
// without Shutdown and the TPM Restart after Shutdown(STATE) + Startup(CLEAR); a flipped byte, an
// older copy of the state file or a wrong platform key stop the CLI with one line and exit 1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { haveTpm2Tools, Tpm2Tools } from '../testing/tpm2-tools.js';
import { TpmClient } from '../client/client.js';
import { password } from '../client/auth.js';
import { MssimTransport } from '../transport/mssim-client.js';
import { Startup } from '../commands/startup/index.js';
import { NV_DefineSpace, NV_Increment, NV_Read } from '../commands/nv/index.js';
import { TPM_ALG, TPM_RH, TPM_SU } from '../wire/constants.js';
import { TPM_NT, TPMA_NV } from '../wire/attribute-bits.js';

const CLI = fileURLToPath(new URL('../cli.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const KEY = randomBytes(32).toString('hex');

interface Running {
  tools: Tpm2Tools;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

function portOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /command port (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
  });
}

function launch(stateDir: string, key: string, extra: string[] = []): ChildProcess {
  return spawn(process.execPath, ['--conditions=sealkeep-source', '--import', 'tsx', CLI, '--port', '0', '--state', stateDir, ...extra], {
    cwd: ROOT,
    env: { ...process.env, SEALKEEP_TPM_PLATFORM_KEY: key },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

const exited = (child: ChildProcess) => new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

/** Start the CLI and wait for its port line. */
async function start(stateDir: string, workDir: string, key = KEY): Promise<Running> {
  const child = launch(stateDir, key);
  const done = exited(child);
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /command port (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    void done.then((code) => reject(new Error(`sealkeep-tpm exited ${code}: ${stderr}`)));
  });
  return {
    tools: new Tpm2Tools(`mssim:host=127.0.0.1,port=${port}`, workDir),
    stop: (signal: NodeJS.Signals = 'SIGTERM') => {
      child.kill(signal);
      return done;
    },
  };
}

/** Start the CLI expecting it to refuse: its exit code and stderr. */
async function refused(stateDir: string, key = KEY): Promise<{ code: number | null; stderr: string }> {
  const child = launch(stateDir, key);
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const code = await exited(child);
  return { code, stderr };
}

async function quoteClockInfo(tools: Tpm2Tools): Promise<{ resetCount: number; restartCount: number; safe: number }> {
  await tools.run('tpm2_createprimary', ['-C', 'e', '-G', 'ecc:ecdsa-sha256:null', '-a', 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign', '-c', 'ak.ctx']);
  await tools.run('tpm2_quote', ['-c', 'ak.ctx', '-l', 'sha256:0', '-q', 'abcd', '-m', 'quote.msg', '-s', 'quote.sig']);
  const { stdout } = await tools.run('tpm2_print', ['-t', 'TPMS_ATTEST', 'quote.msg']);
  const field = (name: string) => Number(new RegExp(`${name}: (\\d+)`).exec(stdout)![1]);
  return { resetCount: field('resetCount'), restartCount: field('restartCount'), safe: field('safe') };
}

test('tpm2-tools across sealkeep-tpm --state restarts', { skip: !haveTpm2Tools }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-cli-state-'));
  const state = path.join(dir, 'tpm');
  const stateFile = path.join(state, 'tpm.state');
  try {
    // First run: provision a persistent key, NV data and a counter.
    let tpm = await start(state, dir);
    let t = tpm.tools;
    await t.run('tpm2_startup', ['-c']);
    await t.run('tpm2_createprimary', ['-C', 'o', '-c', 'srk.ctx']);
    await t.run('tpm2_evictcontrol', ['-C', 'o', '-c', 'srk.ctx', '0x81000001']);
    const srk = (await t.run('tpm2_readpublic', ['-c', '0x81000001'])).stdout;
    writeFileSync(t.file('data.bin'), 'kept across restarts');
    await t.run('tpm2_nvdefine', ['0x1500016', '-C', 'o', '-s', '20', '-a', 'ownerread|ownerwrite']);
    await t.run('tpm2_nvwrite', ['0x1500016', '-C', 'o', '-i', 'data.bin']);
    await t.run('tpm2_nvdefine', ['0x1500017', '-C', 'o', '-s', '8', '-a', 'nt=counter|ownerread|ownerwrite']);
    for (let i = 0; i < 2; i++) await t.run('tpm2_nvincrement', ['0x1500017', '-C', 'o']);
    const clock0 = await quoteClockInfo(t);
    assert.equal(await tpm.stop(), 0);
    const afterFirstRun = readFileSync(stateFile);

    // Second run, no Shutdown before the stop: a TPM Reset.
    tpm = await start(state, dir);
    t = tpm.tools;
    await t.run('tpm2_startup', ['-c']);
    assert.equal((await t.run('tpm2_readpublic', ['-c', '0x81000001'])).stdout, srk);
    assert.equal((await t.run('tpm2_nvread', ['0x1500016', '-C', 'o'])).stdout, 'kept across restarts');
    await t.run('tpm2_nvincrement', ['0x1500017', '-C', 'o']);
    assert.equal((await t.run('tpm2_nvread', ['0x1500017', '-C', 'o'])).stdout, '\0\0\0\0\0\0\0\x03');
    const clock1 = await quoteClockInfo(t);
    assert.deepEqual(clock1, { resetCount: clock0.resetCount + 1, restartCount: 0, safe: 0 });
    await t.run('tpm2_shutdown'); // Shutdown(STATE)
    assert.equal(await tpm.stop(), 0);

    // Third run: Startup(CLEAR) after Shutdown(STATE) is a TPM Restart.
    tpm = await start(state, dir);
    await tpm.tools.run('tpm2_startup', ['-c']);
    const clock2 = await quoteClockInfo(tpm.tools);
    assert.deepEqual([clock2.resetCount, clock2.restartCount], [clock1.resetCount, 1]);
    assert.equal(await tpm.stop(), 0);

    // Refusals, each one line and exit code 1, leaving the state file as it was.
    const good = readFileSync(stateFile);
    const flipped = Buffer.from(good);
    flipped[100]! ^= 0x04;
    const cases: Array<[string, Buffer, string, RegExp]> = [
      ['flipped byte', flipped, KEY, /state file failed authentication: wrong platform key or corrupted file/],
      ['older copy', afterFirstRun, KEY, /state file is older than the last one written \(generation \d+ < \d+\): refusing a rolled-back TPM state/],
      ['wrong platform key', good, randomBytes(32).toString('base64'), /state file failed authentication: wrong platform key or corrupted file/],
    ];
    for (const [what, bytes, key, message] of cases) {
      writeFileSync(stateFile, bytes);
      const r = await refused(state, key);
      assert.equal(r.code, 1, what);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, `${what}: one line: ${r.stderr}`);
      assert.match(r.stderr, message, what);
      assert.ok(r.stderr.startsWith(`sealkeep-tpm: ${stateFile}: `), what);
      assert.deepEqual(readFileSync(stateFile), bytes, `${what}: the state file is untouched`);
    }

    // The good file put back: nothing else was lost.
    writeFileSync(stateFile, good);
    tpm = await start(state, dir);
    await tpm.tools.run('tpm2_startup', ['-c']);
    assert.equal((await tpm.tools.run('tpm2_readpublic', ['-c', '0x81000001'])).stdout, srk);
    assert.equal(await tpm.stop(), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sealkeep-tpm --state without a platform key is a usage error', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-cli-state-'));
  try {
    const r = await refused(path.join(dir, 'tpm'), '');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--state needs a platform key/);
    const short = await refused(path.join(dir, 'tpm'), 'abcd');
    assert.equal(short.code, 1);
    assert.match(short.stderr, /^sealkeep-tpm: platform key is 2 bytes; at least 32 are required\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('what tpm2-tools saw acknowledged survives kill -9 of sealkeep-tpm --state', { skip: !haveTpm2Tools }, async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-tpm-kill-'));
  const stateDir = path.join(root, 'state');
  try {
    const data = Buffer.from('acknowledged means durable: 1234');
    writeFileSync(path.join(root, 'data.bin'), data);
    const first = await start(stateDir, root);
    await first.tools.run('tpm2_startup', ['-c']);
    await first.tools.run('tpm2_nvdefine', ['0x1500020', '-C', 'o', '-s', String(data.length), '-a', 'ownerread|ownerwrite']);
    await first.tools.run('tpm2_nvwrite', ['0x1500020', '-C', 'o', '-i', 'data.bin']);
    await first.tools.run('tpm2_nvdefine', ['0x1500021', '-C', 'o', '-s', '8', '-a', 'ownerread|ownerwrite|nt=counter']);
    await first.tools.run('tpm2_nvincrement', ['0x1500021', '-C', 'o']);
    await first.stop('SIGKILL'); // no flush on the way out: only what was durable before each reply remains

    const second = await start(stateDir, root);
    await second.tools.run('tpm2_startup', ['-c']);
    await second.tools.run('tpm2_nvread', ['0x1500020', '-C', 'o', '-s', String(data.length), '-o', 'out.bin']);
    assert.deepEqual(readFileSync(path.join(root, 'out.bin')), data);
    await second.tools.run('tpm2_nvread', ['0x1500021', '-C', 'o', '-s', '8', '-o', 'ctr.bin']);
    assert.equal(readFileSync(path.join(root, 'ctr.bin')).readBigUInt64BE(0), 1n);
    await second.stop();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a counter step is on disk before its acknowledgement: kill -9 in the same tick as the reply', async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-tpm-ack-'));
  const stateDir = path.join(root, 'state');
  const INDEX = 0x01500022;
  const pw = { auth: [password()] };
  try {
    const first = launch(stateDir, KEY);
    const firstExit = exited(first);
    const t1 = await MssimTransport.connect(`mssim://127.0.0.1:${await portOf(first)}`);
    const c1 = new TpmClient(t1);
    await c1.call(Startup, {}, { startupType: TPM_SU.CLEAR });
    const attributes = (TPMA_NV.OWNERWRITE | TPMA_NV.OWNERREAD | (TPM_NT.COUNTER << TPMA_NV.TPM_NT_SHIFT)) >>> 0;
    await c1.call(NV_DefineSpace, { authHandle: TPM_RH.OWNER }, { auth: Buffer.alloc(0), publicInfo: { nvIndex: INDEX, nameAlg: TPM_ALG.SHA256, attributes, authPolicy: Buffer.alloc(0), dataSize: 8 } }, pw);
    for (let i = 0; i < 3; i++) await c1.call(NV_Increment, { authHandle: TPM_RH.OWNER, nvIndex: INDEX }, {}, pw);
    first.kill('SIGKILL'); // the moment the third acknowledgement arrived
    await firstExit;
    await t1.close().catch(() => undefined);

    const second = launch(stateDir, KEY);
    const secondExit = exited(second);
    const t2 = await MssimTransport.connect(`mssim://127.0.0.1:${await portOf(second)}`);
    const c2 = new TpmClient(t2);
    await c2.call(Startup, {}, { startupType: TPM_SU.CLEAR });
    const { data } = await c2.call(NV_Read, { authHandle: TPM_RH.OWNER, nvIndex: INDEX }, { size: 8, offset: 0 }, pw);
    assert.equal(data.readBigUInt64BE(0), 3n, 'every acknowledged increment survived');
    await t2.close();
    second.kill('SIGTERM');
    await secondExit;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
