// StateFile: encrypted and authenticated round trips, atomic writes, and the refusals — a wrong
// platform key, a byte flipped anywhere, an older copy put back, a missing counter or state file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TpmState } from '../engine/state.js';
import { parsePlatformKey, StateFile, StateFileError, type StateFileErrorReason } from './state-file.js';

const KEY = randomBytes(32);
const MARKER = 'a value only the plaintext holds';
const state = (n: number) => ({ version: 1, marker: MARKER, n }) as unknown as TpmState;

function scratch() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-state-file-'));
  return {
    dir,
    opts: (platformKey: Buffer = KEY) => ({ path: path.join(dir, 'state', 'tpm.state'), counterPath: path.join(dir, 'counter', 'tpm.counter'), platformKey }),
    [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }),
  };
}

async function refused(p: Promise<unknown>, reason: StateFileErrorReason, message?: RegExp): Promise<StateFileError> {
  const err = await p.then(
    () => assert.fail(`expected a StateFileError (${reason})`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof StateFileError, String(err));
  assert.equal(err.reason, reason, err.message);
  assert.doesNotMatch(err.message, /\n/);
  if (message) assert.match(err.message, message);
  return err;
}

test('a saved state loads back; the file holds neither the plaintext nor the platform key', async () => {
  using s = scratch();
  const f = await StateFile.open(s.opts());
  assert.equal(await f.load(), null);
  await f.save(state(1));
  await f.save(state(2));
  assert.deepEqual(await (await StateFile.open(s.opts())).load(), state(2));
  const bytes = readFileSync(s.opts().path);
  assert.equal(bytes.includes(Buffer.from(MARKER)), false);
  assert.equal(bytes.includes(KEY), false);
  assert.equal(bytes.includes(Buffer.from(KEY.toString('hex'))), false);
  assert.equal(bytes.readBigUInt64BE(10), 2n, 'generation in the header');
  assert.equal(readFileSync(s.opts().counterPath, 'latin1'), 'sealkeep-tpm-generation 2\n');
  assert.equal(statSync(s.opts().path).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(path.dirname(s.opts().path)), ['tpm.state'], 'no temporary file left behind');
});

test('a wrong platform key, or a byte flipped anywhere, is refused with one clear line', async () => {
  using s = scratch();
  await (await StateFile.open(s.opts())).save(state(1));
  await refused((await StateFile.open(s.opts(randomBytes(32)))).load(), 'authentication', /^state file failed authentication: wrong platform key or corrupted file$/);
  const good = readFileSync(s.opts().path);
  const regions: Array<[string, number, StateFileErrorReason]> = [
    ['magic', 0, 'format'],
    ['format version', 9, 'format'],
    ['generation', 17, 'authentication'],
    ['nonce', 20, 'authentication'],
    ['ciphertext', 40, 'authentication'],
    ['tag', good.length - 1, 'authentication'],
  ];
  for (const [what, offset, reason] of regions) {
    const bad = Buffer.from(good);
    bad[offset]! ^= 0x01;
    writeFileSync(s.opts().path, bad);
    const err = await refused((await StateFile.open(s.opts())).load(), reason);
    assert.equal(err.path, s.opts().path, what);
    assert.deepEqual(readFileSync(s.opts().path), bad, `${what}: the file is left as it was`);
  }
  writeFileSync(s.opts().path, good.subarray(0, 20));
  await refused((await StateFile.open(s.opts())).load(), 'format');
});

test('an older copy put back is refused as a rollback; a crash between the two writes is not', async () => {
  using s = scratch();
  const f = await StateFile.open(s.opts());
  const copies: Buffer[] = [];
  for (let n = 1; n <= 7; n++) {
    await f.save(state(n));
    copies.push(readFileSync(s.opts().path));
  }
  writeFileSync(s.opts().path, copies[4]!);
  await refused(
    (await StateFile.open(s.opts())).load(),
    'rollback',
    /^state file is older than the last one written \(generation 5 < 7\): refusing a rolled-back TPM state$/,
  );
  // The state file of generation 8 renamed into place, the counter still at 7: accepted, counter catches up.
  writeFileSync(s.opts().path, copies[6]!);
  const g = await StateFile.open(s.opts());
  await g.save(state(8));
  writeFileSync(s.opts().counterPath, 'sealkeep-tpm-generation 7\n');
  assert.deepEqual(await (await StateFile.open(s.opts())).load(), state(8));
  assert.equal(readFileSync(s.opts().counterPath, 'latin1'), 'sealkeep-tpm-generation 8\n');
});

test('a missing or unreadable counter, a lost state file, and a second writer are refused', async () => {
  using s = scratch();
  const f = await StateFile.open(s.opts());
  await f.save(state(1));
  await f.save(state(2));
  const counter = readFileSync(s.opts().counterPath);

  unlinkSync(s.opts().counterPath);
  await refused((await StateFile.open(s.opts())).load(), 'counter', /rollback counter .* is missing/);
  writeFileSync(s.opts().counterPath, 'seven\n');
  await refused(StateFile.open(s.opts()), 'counter', /is unreadable/);
  writeFileSync(s.opts().counterPath, counter);

  copyFileSync(s.opts().path, path.join(s.dir, 'kept'));
  unlinkSync(s.opts().path);
  await refused((await StateFile.open(s.opts())).load(), 'missing-state', /generation 2 was written/);
  copyFileSync(path.join(s.dir, 'kept'), s.opts().path);

  const other = await StateFile.open(s.opts());
  await other.load();
  await other.save(state(3));
  await refused(f.save(state(4)), 'concurrent-writer');
});

test('platform keys: hex, base64 or raw bytes, at least 32 bytes', async () => {
  assert.deepEqual(parsePlatformKey(KEY.toString('hex') + '\n'), KEY);
  assert.deepEqual(parsePlatformKey(KEY.toString('base64')), KEY);
  const raw = Buffer.concat([Buffer.from([0xff, 0x00]), randomBytes(30)]);
  assert.deepEqual(parsePlatformKey(raw), raw);
  assert.throws(() => parsePlatformKey('abcd'), /2 bytes; at least 32/);
  assert.throws(() => parsePlatformKey('not a key!'), /neither hex nor base64/);
  using s = scratch();
  await refused(StateFile.open(s.opts(randomBytes(16))), 'platform-key');
});
