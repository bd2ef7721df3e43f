// The file a TPM's persistent state lives in (engine/state.ts), encrypted and authenticated
// with a key derived from the platform key, written atomically, and checked against rollback.
//
//   file   = header || AES-256-GCM(key, nonce, JSON(TpmState), aad = header) || tag
//   header = "SKTPMST\0" (8) | format version u16 (1) | generation u64 | nonce (12), big-endian
//   key    = HKDF-SHA256(platform key, salt = "", info = "sealkeep tpm state file v1", 32 bytes)
//
// Rollback: each save has generation = the last written + 1, and after the state file is in
// place the rollback counter file (counterPath) is advanced to it. The counter stands for a
// monotonic counter outside the TPM (a platform's RPMB, fuse bank or host-side service): keep
// it where whoever can replace the state file cannot also put back an old counter. A state file
// whose generation is below the counter is an old copy and is refused; one above it is what a
// crash between the two writes leaves, and is accepted (the counter catches up). A missing
// counter beside an existing state file, or a missing state file the counter says was written,
// is refused too. The platform key is never written anywhere; errors never include key material.
//
// Writes: a temporary file in the same directory, fsync, rename over the target, fsync the
// directory — a crash leaves the old file or the new one, never a torn one.

import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { TpmState } from '../engine/state.js';

const MAGIC = Buffer.from('SKTPMST\0', 'latin1');
const FORMAT_VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = MAGIC.length + 2 + 8 + NONCE_BYTES;
const KDF_INFO = 'sealkeep tpm state file v1';
export const MIN_PLATFORM_KEY_BYTES = 32;

export type StateFileErrorReason = 'platform-key' | 'format' | 'authentication' | 'rollback' | 'counter' | 'missing-state' | 'concurrent-writer' | 'io';

/** A state file that cannot be trusted or used; the message is one line and names no secret. */
export class StateFileError extends Error {
  override readonly name = 'StateFileError';
  constructor(
    readonly reason: StateFileErrorReason,
    message: string,
    /** The file at fault. */
    readonly path: string,
  ) {
    super(message);
  }
}

export interface StateFileOptions {
  path: string;
  platformKey: Buffer;
  counterPath: string;
}

/**
 * A platform key given as text (hex, or base64) or as raw bytes (a key file of binary random
 * bytes); at least 32 bytes of key either way.
 */
export function parsePlatformKey(input: string | Buffer): Buffer {
  const text = (typeof input === 'string' ? input : input.toString('latin1')).trim();
  let key: Buffer;
  if (/^(?:[0-9a-fA-F]{2})+$/.test(text)) key = Buffer.from(text, 'hex');
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) key = Buffer.from(text, 'base64');
  else if (typeof input !== 'string') key = Buffer.from(input);
  else throw new StateFileError('platform-key', 'platform key is neither hex nor base64', '');
  if (key.length < MIN_PLATFORM_KEY_BYTES) {
    throw new StateFileError('platform-key', `platform key is ${key.length} bytes; at least ${MIN_PLATFORM_KEY_BYTES} are required`, '');
  }
  return key;
}

function deriveKey(platformKey: Buffer): KeyObject {
  return createSecretKey(Buffer.from(hkdfSync('sha256', platformKey, Buffer.alloc(0), KDF_INFO, 32)));
}

function code(e: unknown): string {
  return (e as { code?: string }).code ?? (e as Error).message;
}

/** Write `data` to `file` so that a crash leaves either the old contents or the new, never a mix. */
async function writeAtomic(file: string, data: Buffer): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new StateFileError('io', `cannot write ${path.basename(file)}: ${code(e)}`, file);
  }
  try {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch (e) {
    throw new StateFileError('io', `cannot sync the directory of ${path.basename(file)}: ${code(e)}`, file);
  }
}

async function readOrNull(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch (e) {
    if (code(e) === 'ENOENT') return null;
    throw new StateFileError('io', `cannot read ${path.basename(file)}: ${code(e)}`, file);
  }
}

export class StateFile {
  /** The highest generation known written (the counter, or a newer state file read). */
  private generation: bigint;
  private queue: Promise<void> = Promise.resolve();

  private constructor(
    private readonly opts: { path: string; counterPath: string },
    private readonly key: KeyObject,
    generation: bigint,
  ) {
    this.generation = generation;
  }

  /** Open (creating the directories, and a zero counter when there is no state yet). */
  static async open(opts: StateFileOptions): Promise<StateFile> {
    if (opts.platformKey.length < MIN_PLATFORM_KEY_BYTES) {
      throw new StateFileError('platform-key', `platform key is ${opts.platformKey.length} bytes; at least ${MIN_PLATFORM_KEY_BYTES} are required`, opts.path);
    }
    for (const dir of new Set([path.dirname(opts.path), path.dirname(opts.counterPath)])) await mkdir(dir, { recursive: true, mode: 0o700 });
    const f = new StateFile({ path: opts.path, counterPath: opts.counterPath }, deriveKey(opts.platformKey), 0n);
    let counter = await f.readCounter();
    if (counter === null && (await readOrNull(opts.path)) === null) {
      await f.writeCounter(0n);
      counter = 0n;
    }
    f.generation = counter ?? 0n;
    return f;
  }

  get path(): string {
    return this.opts.path;
  }

  /** The saved state; null when there is none yet. Throws StateFileError when it cannot be trusted. */
  async load(): Promise<TpmState | null> {
    const counter = await this.readCounter();
    const file = await readOrNull(this.opts.path);
    if (file === null) {
      if (counter !== null && counter > 0n) {
        throw this.error('missing-state', `state file is missing but generation ${counter} was written: refusing to start a fresh TPM over a lost one`);
      }
      return null;
    }
    if (counter === null) {
      throw new StateFileError('counter', `rollback counter ${this.opts.counterPath} is missing: refusing a state file whose age cannot be checked`, this.opts.counterPath);
    }
    const { generation, plaintext } = this.open(file);
    if (generation < counter) {
      throw this.error('rollback', `state file is older than the last one written (generation ${generation} < ${counter}): refusing a rolled-back TPM state`);
    }
    let state: TpmState;
    try {
      state = JSON.parse(plaintext.toString('utf8')) as TpmState;
    } catch {
      throw this.error('format', 'state file is authentic but its contents are not a TPM state');
    }
    if (generation > counter) await this.writeCounter(generation); // a crash between the two writes
    this.generation = generation > this.generation ? generation : this.generation;
    return state;
  }

  /** Write `state` as the next generation; saves are serialised in call order. */
  save(state: TpmState): Promise<void> {
    const run = this.queue.then(() => this.write(state));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async write(state: TpmState): Promise<void> {
    const counter = await this.readCounter();
    if (counter === null) {
      throw new StateFileError('counter', `rollback counter ${this.opts.counterPath} is missing: refusing to write past it`, this.opts.counterPath);
    }
    if (counter > this.generation) {
      throw this.error('concurrent-writer', `rollback counter is ahead of this instance (generation ${counter} > ${this.generation}): another process writes this TPM state`);
    }
    const next = this.generation + 1n;
    await writeAtomic(this.opts.path, this.seal(next, Buffer.from(JSON.stringify(state), 'utf8')));
    await this.writeCounter(next);
    this.generation = next;
  }

  private seal(generation: bigint, plaintext: Buffer): Buffer {
    const header = Buffer.alloc(HEADER_BYTES);
    MAGIC.copy(header, 0);
    header.writeUInt16BE(FORMAT_VERSION, MAGIC.length);
    header.writeBigUInt64BE(generation, MAGIC.length + 2);
    randomBytes(NONCE_BYTES).copy(header, MAGIC.length + 10);
    const cipher = createCipheriv('aes-256-gcm', this.key, header.subarray(MAGIC.length + 10), { authTagLength: TAG_BYTES });
    cipher.setAAD(header);
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([header, body, cipher.getAuthTag()]);
  }

  private open(file: Buffer): { generation: bigint; plaintext: Buffer } {
    if (file.length < HEADER_BYTES + TAG_BYTES || !file.subarray(0, MAGIC.length).equals(MAGIC)) {
      throw this.error('format', 'not a Sealkeep TPM state file, or its header is corrupted');
    }
    const version = file.readUInt16BE(MAGIC.length);
    if (version !== FORMAT_VERSION) {
      throw this.error('format', `state file format ${version} is not supported (this build reads ${FORMAT_VERSION}), or its header is corrupted`);
    }
    const header = file.subarray(0, HEADER_BYTES);
    const generation = file.readBigUInt64BE(MAGIC.length + 2);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, header.subarray(MAGIC.length + 10), { authTagLength: TAG_BYTES });
      decipher.setAAD(header);
      decipher.setAuthTag(file.subarray(file.length - TAG_BYTES));
      const plaintext = Buffer.concat([decipher.update(file.subarray(HEADER_BYTES, file.length - TAG_BYTES)), decipher.final()]);
      return { generation, plaintext };
    } catch {
      throw this.error('authentication', 'state file failed authentication: wrong platform key or corrupted file');
    }
  }

  private async readCounter(): Promise<bigint | null> {
    const raw = await readOrNull(this.opts.counterPath);
    if (raw === null) return null;
    const m = /^sealkeep-tpm-generation (\d{1,20})\n$/.exec(raw.toString('latin1'));
    if (!m) throw new StateFileError('counter', `rollback counter ${this.opts.counterPath} is unreadable`, this.opts.counterPath);
    return BigInt(m[1]!);
  }

  private writeCounter(generation: bigint): Promise<void> {
    return writeAtomic(this.opts.counterPath, Buffer.from(`sealkeep-tpm-generation ${generation}\n`, 'latin1'));
  }

  private error(reason: StateFileErrorReason, message: string): StateFileError {
    return new StateFileError(reason, message, this.opts.path);
  }
}
