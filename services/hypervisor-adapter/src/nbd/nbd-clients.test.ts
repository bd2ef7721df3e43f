// The server under the NBD clients a hypervisor host really has (Debian libnbd-bin, qemu-utils):
// nbdinfo sees the exports, qemu-io writes and reads patterns aligned and not, write-zeroes and
// flush, nbdcopy moves 32 MiB in and out unchanged, the backing files hold ciphertext only, a
// tampered byte on disk is an I/O error for that sector alone, nbdinfo --map and qemu-img map see
// data and holes, and errors leave the server up.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { flipByte, recordingLogger, runTool, serveTestVolumes, skipWithoutNbdTools } from '../test-kit.fixture.js';

const MiB = 1 << 20;

describe('NBD server under nbdinfo, qemu-io and nbdcopy', { skip: skipWithoutNbdTools }, () => {
  const log = recordingLogger();
  const served = serveTestVolumes('clients', { vol4k: { size: 64 * MiB, sectorSize: 4096 }, vol512: { size: 8 * MiB, sectorSize: 512 } }, log);
  const url = (name: string) => served.url(name);

  const qemuIo = async (name: string, ...commands: string[]) => {
    const result = await runTool('qemu-io', ['-f', 'raw', url(name), ...commands.flatMap((c) => ['-c', c])]);
    return { ...result, failed: result.code !== 0 || /failed|error/i.test(result.stdout + result.stderr) };
  };

  test('nbdinfo sees each export, its size and block sizes, and lists them all', async () => {
    const info = await runTool('nbdinfo', ['--json', url('vol4k')]);
    assert.equal(info.code, 0, info.stderr);
    const json = JSON.parse(info.stdout) as { protocol: string; exports: Array<Record<string, unknown>> };
    assert.equal(json.protocol, 'newstyle-fixed');
    const exported = json.exports[0]!;
    assert.equal(exported['export-size'], 64 * MiB);
    assert.equal(exported['block_size_minimum'], 1);
    assert.equal(exported['block_size_preferred'], 4096);
    for (const can of ['can_flush', 'can_fua', 'can_trim', 'can_zero']) assert.equal(exported[can], true, can);
    assert.equal((await runTool('nbdinfo', ['--size', url('vol512')])).stdout.trim(), String(8 * MiB));
    const list = await runTool('nbdinfo', ['--list', '--json', url('')]);
    assert.equal(list.code, 0, list.stderr);
    const names = (JSON.parse(list.stdout) as { exports: Array<{ 'export-name': string }> }).exports.map((e) => e['export-name']);
    assert.deepEqual(names.sort(), ['vol4k', 'vol512']);
  });

  for (const name of ['vol4k', 'vol512']) {
    test(`qemu-io on ${name}: patterns at aligned and unaligned offsets, write -z, flush`, async () => {
      const written = await qemuIo(
        name,
        'write -P 0xab 0 4k',
        'write -P 0xcd 1000 3000',
        'write -P 0xef 8191 2',
        'write -P 0x11 1M 1M',
        'write -z 1052672 8k',
        'write -P 0x22 1054000 100',
        'flush',
      );
      assert.equal(written.failed, false, written.stdout + written.stderr);
      const read = await qemuIo(
        name,
        'read -P 0xab 0 1000',
        'read -P 0xcd 1000 3000',
        'read -P 0xab 4000 96',
        'read -P 0 4096 4095',
        'read -P 0xef 8191 2',
        'read -P 0 8193 4000',
        'read -P 0x11 1M 4k',
        'read -P 0 1052672 1328',
        'read -P 0x22 1054000 100',
        'read -P 0 1054100 6764',
        'read -P 0x11 1060864 1036288',
        'read -P 0 3M 1M',
      );
      assert.equal(read.failed, false, read.stdout + read.stderr);
      const wrong = await qemuIo(name, 'read -P 0x99 0 4k');
      assert.equal(wrong.failed, true, 'qemu-io notices a wrong pattern (the check itself works)');
    });
  }

  test('nbdcopy moves 32 MiB of random data in and out unchanged', async () => {
    const source = path.join(served.dir, 'random.bin');
    const back = path.join(served.dir, 'back.bin');
    const data = randomBytes(32 * MiB);
    writeFileSync(source, data);
    const copyIn = await runTool('nbdcopy', ['--flush', source, url('vol4k')]);
    assert.equal(copyIn.code, 0, copyIn.stderr);
    const copyOut = await runTool('nbdcopy', [url('vol4k'), back]);
    assert.equal(copyOut.code, 0, copyOut.stderr);
    const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
    assert.equal(sha256(readFileSync(back).subarray(0, 32 * MiB)), sha256(data));
    assert.ok(readFileSync(back).subarray(32 * MiB).every((b) => b === 0), 'the rest of the export reads as zeros');
  });

  test('a marker written by a client is in none of the backing files', async () => {
    const marker = Buffer.from('<<SEALKEEP-PLAINTEXT-MARKER-4c1e77>>');
    const source = path.join(served.dir, 'marker.bin');
    writeFileSync(source, Buffer.concat(Array.from({ length: 30_000 }, () => marker)));
    const copyIn = await runTool('nbdcopy', ['--flush', source, url('vol512')]);
    assert.equal(copyIn.code, 0, copyIn.stderr);
    const journalOnly = readFileSync(path.join(served.dir, 'vol512', 'journal'));
    assert.equal(journalOnly.indexOf(marker.subarray(2, 20)), -1, 'marker found in the journal');
    await served.volumes.vol512!.checkpoint();
    const check = await qemuIo('vol512', `read -v 0 ${marker.length}`);
    assert.match(check.stdout, /3c 3c 53 45 41 4c 4b 45 45 50 2d 50/, 'the client reads its marker back ( "<<SEALKEEP-P" )');
    for (const file of readdirSync(path.join(served.dir, 'vol512'))) {
      const bytes = readFileSync(path.join(served.dir, 'vol512', file));
      assert.equal(bytes.indexOf(marker.subarray(2, 20)), -1, `marker found in ${file}`);
    }
  });

  test('a byte changed in the backing file: that sector is an I/O error, the others still read', async () => {
    const written = await qemuIo('vol4k', 'write -P 0x5a 40M 64k', 'flush');
    assert.equal(written.failed, false, written.stdout + written.stderr);
    await served.volumes.vol4k!.checkpoint(); // from the journal into the data file, where the damage is done
    flipByte(path.join(served.dir, 'vol4k', 'data'), 40 * MiB + 5 * 4096 + 321, 0xff); // LBA 10245
    const bad = await qemuIo('vol4k', `read -P 0x5a ${40 * MiB + 5 * 4096} 4k`);
    assert.equal(bad.failed, true);
    assert.match(bad.stdout + bad.stderr, /Input\/output error/);
    const good = await qemuIo('vol4k', `read -P 0x5a 40M ${5 * 4096}`, `read -P 0x5a ${40 * MiB + 6 * 4096} ${10 * 4096}`);
    assert.equal(good.failed, false, good.stdout + good.stderr);
    assert.ok(log.entries.some((e) => e.level === 'warn' && (e.fields.lbas as bigint[] | undefined)?.includes(10245n)));
  });

  test('nbdinfo --map and qemu-img map see which runs hold data and which are holes that read as zeros', async () => {
    // In vol512's last MiB, which no other test writes: 64 KiB of data, 64 KiB zeroed, 192 KiB never written, 4 KiB of data.
    const at = 7 * MiB;
    const written = await qemuIo('vol512', `write -P 0x11 ${at} 64k`, `write -z ${at + 65536} 64k`, `write -P 0x22 ${at + 327680} 4k`, 'flush');
    assert.equal(written.failed, false, written.stdout + written.stderr);
    const expected = [
      { start: at, length: 65536, data: true },
      { start: at + 65536, length: 262144, data: false },
      { start: at + 327680, length: 4096, data: true },
      { start: at + 331776, length: MiB - 331776, data: false },
    ];
    const map = await runTool('nbdinfo', ['--map', '--json', url('vol512')]);
    assert.equal(map.code, 0, map.stderr);
    const extents = (JSON.parse(map.stdout) as Array<{ offset: number; length: number; type: number; description: string }>).filter((e) => e.offset >= at);
    assert.deepEqual(
      extents.map((e) => ({ start: e.offset, length: e.length, data: e.type === 0 })),
      expected,
      map.stdout,
    );
    assert.deepEqual([...new Set(extents.filter((e) => e.type !== 0).map((e) => e.description))], ['hole,zero']);
    const qemuMap = await runTool('qemu-img', ['map', '-f', 'raw', '--output=json', `--start-offset=${at}`, url('vol512')]);
    assert.equal(qemuMap.code, 0, qemuMap.stderr);
    const runs = JSON.parse(qemuMap.stdout) as Array<{ start: number; length: number; data: boolean; zero: boolean }>;
    assert.deepEqual(runs.map(({ start, length, data }) => ({ start, length, data })), expected, qemuMap.stdout);
    assert.deepEqual(runs.map((r) => r.zero), [false, true, false, true]);
  });

  test('qemu-img convert onto an export (its zeros as write-zeroes), and a discard of all of it', async () => {
    // A source with data, a run of zeros and a hole: what comes back must equal it byte for byte.
    const source = path.join(served.dir, 'convert-source.raw');
    const image = Buffer.alloc(8 * MiB);
    randomBytes(3 * MiB).copy(image, 0);
    randomBytes(MiB).copy(image, 6 * MiB);
    writeFileSync(source, image);
    const converted = await runTool('qemu-img', ['convert', '-n', '-f', 'raw', '-O', 'raw', source, url('vol512')]);
    assert.equal(converted.code, 0, converted.stderr);
    const back = path.join(served.dir, 'convert-back.raw');
    const copied = await runTool('nbdcopy', [url('vol512'), back]);
    assert.equal(copied.code, 0, copied.stderr);
    assert.ok(readFileSync(back).equals(image), 'the export holds the source image');
    const discarded = await qemuIo('vol512', 'discard 0 8M', 'read -P 0 0 8M');
    assert.equal(discarded.failed, false, discarded.stdout + discarded.stderr);
    // The whole 64 MiB export in one discard: more than the 32 MiB request maximum, as QEMU sends it.
    const whole = await qemuIo('vol4k', 'discard 0 64M');
    assert.equal(whole.failed, false, whole.stdout + whole.stderr);
    const after = JSON.parse((await runTool('qemu-img', ['map', '-f', 'raw', '--output=json', url('vol4k')])).stdout) as Array<{ zero: boolean; data: boolean }>;
    assert.deepEqual(after.map(({ zero, data }) => ({ zero, data })), [{ zero: true, data: false }]);
  });

  test('an unknown export is an error for the client, and the server serves on', async () => {
    const unknown = await runTool('nbdinfo', [url('no-such-volume')]);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /No such file or directory for export/); // libnbd's words for NBD_REP_ERR_UNKNOWN
    const outOfRange = await qemuIo('vol512', `read 8M 4k`);
    assert.equal(outOfRange.failed, true);
    const after = await qemuIo('vol512', 'read 0 4k');
    assert.equal(after.failed, false, after.stdout + after.stderr);
  });
});
