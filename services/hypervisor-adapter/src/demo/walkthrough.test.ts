// `npm run demo`, run whole: every step passes, the output shows what the walkthrough promises
// (evidence and audit verified offline, no plaintext on disk, the delegation chain of a block
// request, an earlier copy of the disk refused when its VM starts again on the adapter's control
// socket, the export stopped by a disabled key), it exits 0,
// and it leaves no process and no directory behind.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { skipWithoutNbdTools } from '../test-kit.fixture.js';

const walkthrough = fileURLToPath(new URL('./walkthrough.ts', import.meta.url));
const repo = fileURLToPath(new URL('../../../../', import.meta.url));

/** Processes whose command line or environment mentions `text` (the service has it in SEALKEEP_DATA_DIR). */
function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
      if (cmdline.includes(text) || environ.includes(text)) found.push(`${pid}: ${cmdline.slice(0, 120)}`);
    } catch {
      // gone, or not ours
    }
  }
  return found;
}

test('npm run demo: the walkthrough passes every step and cleans up', { skip: skipWithoutNbdTools, timeout: 180_000 }, async (t) => {
  const child = spawn(process.execPath, ['--conditions=sealkeep-source', '--import', 'tsx', walkthrough], { cwd: repo, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const started = Date.now();
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  t.diagnostic(`the walkthrough took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const throughput = /32 MiB in: .*$/m.exec(out);
  if (throughput) t.diagnostic(throughput[0].trim());
  assert.equal(code, 0, out);

  for (let n = 1; n <= 22; n++) assert.match(out, new RegExp(`\\[ ?${n}/22\\]`), `step ${n} ran`);
  assert.equal((out.match(/✓ \d+\.\d s/g) ?? []).length, 22, 'every step passed');
  assert.match(out, /opened in its place for the read/, 'the block session was renewed after the service restarted');
  assert.match(out, /web-01 stopped, the adapter serves on/, 'the VM stopped on the control socket');
  assert.match(out, /refused: 409 volume-state-differs: .*rolled back or altered at rest/, "the disk's earlier copy was refused");
  assert.match(out, /acme's audit: volume\.state-opened failure/);
  assert.match(out, /the disk's state at its open: as-closed/, 'the disk as it was closed is served again');
  assert.match(out, /evidence verified: the wrapping key lives in a TPM of the pinned manufacturer/);
  assert.match(out, /proven by the service TPM's quote of the approved launch/, 'the adapter proved the service key by its evidence');
  assert.match(out, /policy match/);
  assert.match(out, /read back identical/);
  assert.match(out, /vm\/payroll\.raw \(what the VM wrote\): 8192 times/);
  for (const file of ['data', 'journal', 'tags']) assert.match(out, new RegExp(`web-01-disk/${file} .*: 0 times`), `${file} holds no plaintext`);
  assert.match(out, /evidence OK: host host-07/);
  assert.match(out, /audit log OK: \d+ entries, \d+ checkpoints/);
  assert.match(out, /block\.batch \(seq \d+\): tn:bob > cms:vcloud-svc > hv:host-07-[0-9a-f]{8}/);
  // The key disabled: the read fails with EIO, or — when the adapter heard the end on its stream first — the export is refused, and says why.
  assert.match(out, /read failed: Input\/output error|server reported: export "web-01-disk" is not served: stopped: block session ended \(key-disabled\)/);
  assert.match(out, /Walkthrough complete\./);

  const workspace = /^workspace (\S+)/m.exec(out)![1]!;
  assert.equal(existsSync(workspace), false, 'the workspace is removed');
  assert.deepEqual(processesMentioning(workspace), [], 'no process of the walkthrough is left');
});
