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

const CLI = fileURLToPath(new URL('../cli.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const KEY = randomBytes(32).toString('hex');

interface Running {
  tools: Tpm2Tools;
  stop(): Promise<number | null>;
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
    stop: () => {
      child.kill('SIGTERM');
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
