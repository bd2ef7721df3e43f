// The command-line verifier, run as a reviewer would: exit status and output for a good log, a
// tampered one (text and --json), a pinned and a foreign AK, and usage errors.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { toJsonLines } from './export.js';
import { newAk, sampleLog } from './audit-log.fixture.js';

const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, ['--conditions=sealkeep-source', '--import', 'tsx', cli, ...args], { encoding: 'utf8' });

test('sealkeep-audit-verify: exit status and report', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'audit-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const log = await sampleLog(30, 10);
  const file = (name: string, text: string) => (writeFileSync(path.join(dir, name), text), path.join(dir, name));
  const good = file('good.jsonl', toJsonLines(log.items));
  const bad = file('bad.jsonl', toJsonLines(log.items).replace('"requestId":"req-00000007"', '"requestId":"req-forged"'));
  const ak = file('ak.pem', log.ak.publicKeyPem);
  const foreign = file('other.pem', newAk().publicKeyPem);

  const ok = run(good, '--trusted-ak', ak);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout, 'audit log OK: 30 entries, 3 checkpoints, last signed at seq 30\n');

  const failed = run(bad);
  assert.equal(failed.status, 1);
  assert.match(failed.stdout, /^CRITICAL audit\.entry\.altered \[seq 7, line 7\]/);
  assert.match(failed.stdout, /audit log FAILED: 1 finding; first bad entry: seq 7\n$/);

  const json = run(bad, '--json');
  assert.equal(json.status, 1);
  const report = JSON.parse(json.stdout);
  assert.deepEqual(report.findings.map((f: { id: string; seq: number }) => [f.id, f.seq]), [['audit.entry.altered', 7]]);

  const untrusted = run(good, '--trusted-ak', foreign);
  assert.equal(untrusted.status, 1);
  assert.equal(untrusted.stdout.match(/audit\.checkpoint\.untrusted-key/g)?.length, 3);

  assert.equal(run().status, 2);
  assert.equal(run(path.join(dir, 'absent.jsonl')).status, 2);
});
