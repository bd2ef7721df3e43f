// What the adapter's tests share: temporary directories, volumes on LocalSectorCrypto with known
// keys, an in-process NBD server, the Debian NBD/QEMU tools (found, or a skip reason) run
// asynchronously (the server under test lives in the same event loop), and the adapter's CLI
// started as a child process.

import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { after, before } from 'node:test';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { merkleRoot, type SectorSize } from '@sealkeep/crypto';
import { silentLogger, type Logger } from './logger.js';
import { ExportRegistry } from './nbd/export-registry.js';
import { NbdServer } from './nbd/nbd-server.js';
import type { EncryptedFileVolume, VolumeLimits } from './volume/encrypted-file-volume.js';
import { openEncryptedFileVolume } from './volume/open-volume.js';
import { LocalSectorCrypto, generateVolumeKeys, type VolumeKeys } from './volume/sector-crypto.js';

export function temporaryDirectory(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), `sealkeep-hv-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `length` bytes of a file at `position`, as they lie on disk. */
export function readAt(file: string, position: number, length: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const out = Buffer.alloc(length);
    readSync(fd, out, 0, length, position);
    return out;
  } finally {
    closeSync(fd);
  }
}

/** Writes bytes into a file at `position`, in place: what someone with the host's disks can do. */
export function patchFile(file: string, position: number, bytes: Buffer): void {
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, position);
  } finally {
    closeSync(fd);
  }
}

/** Damages one byte of a file in place (its bits under `mask` flipped): what the host's storage could do to a sector. */
export function flipByte(file: string, position: number, mask = 0x40): void {
  const fd = openSync(file, 'r+');
  try {
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, position);
    byte[0]! ^= mask;
    writeSync(fd, byte, 0, 1, position);
  } finally {
    closeSync(fd);
  }
}

/** Copies of one key pair: LocalSectorCrypto wipes the buffers it is given. */
export function keyFactory(keys: VolumeKeys = generateVolumeKeys()): () => VolumeKeys {
  const dataKey = Buffer.from(keys.dataKey);
  const integrityKey = Buffer.from(keys.integrityKey);
  return () => ({ dataKey: Buffer.from(dataKey), integrityKey: Buffer.from(integrityKey) });
}

export interface TestVolumeOptions {
  size?: number;
  sectorSize?: SectorSize;
  keys?: () => VolumeKeys;
  readOnly?: boolean;
  limits?: Partial<VolumeLimits>;
  log?: Logger;
}

export function openTestVolume(dir: string, options: TestVolumeOptions = {}): Promise<EncryptedFileVolume> {
  const keys = options.keys ?? keyFactory();
  return openEncryptedFileVolume({
    dir,
    create: { size: options.size ?? 8 << 20, sectorSize: options.sectorSize ?? 4096 },
    crypto: ({ volumeId, sectorSize }) => new LocalSectorCrypto({ keys: keys(), volumeId, sectorSize }),
    readOnly: options.readOnly ?? false,
    log: options.log ?? silentLogger,
    ...(options.limits ? { limits: options.limits } : {}),
  });
}

/** A log that keeps its entries, to assert on what was logged. */
export function recordingLogger(): Logger & { entries: Array<{ level: string; message: string; fields: Record<string, unknown> }> } {
  const entries: Array<{ level: string; message: string; fields: Record<string, unknown> }> = [];
  const at = (level: string) => (fields: object, message: string) => void entries.push({ level, message, fields: fields as Record<string, unknown> });
  return { entries, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export async function startServer(volumes: Record<string, EncryptedFileVolume>, log: Logger = silentLogger): Promise<{ server: NbdServer; port: number; url: (name: string) => string }> {
  const exports = new ExportRegistry();
  for (const [name, volume] of Object.entries(volumes)) exports.attach(name, volume);
  const server = new NbdServer({ exports, log });
  const { port } = await server.listen(0);
  return { server, port, url: (name) => `nbd://127.0.0.1:${port}/${name}` };
}

/** Volumes served by an in-process NBD server for a suite's tests: where they live, and how to reach them. */
export interface ServedVolumes {
  dir: string;
  volumes: Record<string, EncryptedFileVolume>;
  port: number;
  url: (name: string) => string;
}

/**
 * Inside a describe: before its tests, opens a volume per entry of `specs` (in a temporary
 * directory, each under its name) and serves them all; after them, closes everything and removes
 * the directory. The fields are filled in by the time the tests run.
 */
export function serveTestVolumes(prefix: string, specs: Record<string, TestVolumeOptions>, log: Logger = silentLogger): ServedVolumes {
  const tmp = temporaryDirectory(prefix);
  const served: ServedVolumes = { dir: tmp.dir, volumes: {}, port: 0, url: () => '' };
  let server: NbdServer | null = null;
  before(async () => {
    for (const [name, options] of Object.entries(specs)) served.volumes[name] = await openTestVolume(path.join(tmp.dir, name), options);
    const started = await startServer(served.volumes, log);
    ({ server, port: served.port, url: served.url } = started);
  });
  after(async () => {
    await server?.close();
    for (const volume of Object.values(served.volumes)) await volume.close();
    tmp.remove();
  });
  return served;
}

const NBD_TOOLS = ['nbdinfo', 'qemu-io', 'nbdcopy', 'qemu-nbd', 'qemu-img'] as const;
const missingTools = NBD_TOOLS.filter((tool) => spawnSync('which', [tool]).status !== 0);
/** false when every tool is there, else why tests that drive them are skipped. */
export const skipWithoutNbdTools: false | string =
  missingTools.length > 0 && `${missingTools.join(', ')} not installed (Debian: apt-get install libnbd-bin qemu-utils)`;

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a tool without blocking the event loop (an in-process server must keep answering). */
export function runTool(tool: string, args: string[], timeoutMs = 60_000): Promise<ToolResult> {
  return new Promise((resolve) => {
    execFile(tool, args, { timeout: timeoutMs, maxBuffer: 64 << 20, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const mainModule = fileURLToPath(new URL('./main.ts', import.meta.url));

/**
 * Starts the CLI (`main.ts`) listening at `listen` (default: a free loopback port); resolves once
 * it logs "listening", with the port it took (0 on a Unix socket).
 */
export async function startAdapterProcess(args: string[], listen = '127.0.0.1:0'): Promise<{ child: ChildProcess; port: number; stderr: () => string }> {
  const child = spawn(process.execPath, ['--conditions=sealkeep-source', '--import', 'tsx', mainModule, '--listen', listen, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the adapter did not start:\n${stderr}`)), 30_000);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => {
      stderr += text;
      const listening = stderr.split('\n').slice(0, -1).find((line) => line.includes('"msg":"listening"'));
      if (listening) {
        clearTimeout(timer);
        resolve((JSON.parse(listening) as { port?: number }).port ?? 0);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the adapter exited (${code}) before listening:\n${stderr}`));
    });
  });
  return { child, port, stderr: () => stderr };
}

/**
 * The volume state root of a whole tag file's entries, computed from scratch as
 * volume/chunk-state.ts defines it (JavaScript SHA-256, no slices, no kept roots): what the
 * adapter's chunked, cached and sliced computation must equal.
 */
export function stateRootOf(entries: Buffer, sectorCount: number): Buffer {
  const CHUNK = 1 << 16;
  const chunkRoots: Buffer[] = [];
  for (let first = 0; first < sectorCount; first += CHUNK) {
    const count = Math.min(CHUNK, sectorCount - first);
    const tags = Buffer.alloc(count * 32);
    const words = Buffer.alloc(Math.ceil(count / 4) * 32);
    for (let i = 0; i < count; i++) {
      const at = (first + i) * 40;
      entries.copy(words, i * 8, at, at + 8);
      entries.copy(tags, i * 32, at + 8, at + 40);
    }
    chunkRoots.push(createHash('sha256').update(Buffer.of(1)).update(merkleRoot(tags)).update(merkleRoot(words)).digest());
  }
  const count = Buffer.alloc(8);
  count.writeBigUInt64BE(BigInt(sectorCount));
  return createHash('sha256').update('sealkeep volume state 1').update(count).update(merkleRoot(Buffer.concat(chunkRoots))).digest();
}
