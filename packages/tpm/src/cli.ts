#!/usr/bin/env node
// sealkeep-tpm: the emulated TPM 2.0 served over the TCG simulator (mssim) protocol.
//   sealkeep-tpm [--port 2321] [--host 127.0.0.1] [--state <dir> [--platform-key-file <file>] [--counter-file <file>]]
// Command port P, platform port P+1; drive it with TPM2TOOLS_TCTI=mssim:host=127.0.0.1,port=2321.
//
// Without --state the TPM lives in memory and is gone when the process ends. With --state its
// NV (seeds, NV indices, persistent keys, counters, clock, what Shutdown saved) is kept in
// <dir>/tpm.state, encrypted and authenticated with the platform key — from --platform-key-file,
// or the environment variable SEALKEEP_TPM_PLATFORM_KEY (hex or base64, at least 32 bytes; it
// is removed from the environment once read). Keep the key away from the state directory.
// The rollback counter (--counter-file, default <dir>.counter beside the directory, not in it)
// stands for a monotonic counter outside the TPM: on a real platform, storage that whoever can
// replace the state file cannot roll back with it. A state file that is corrupted, was written
// with another key, or is older than the counter stops start-up with one line and exit code 1.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Tpm } from './engine/tpm.js';
import { openPersistentTpm, type PersistentTpm } from './platform/persistent-tpm.js';
import { parsePlatformKey, StateFileError } from './platform/state-file.js';
import { MssimServer } from './transport/mssim-server.js';
import { quickAckAvailable } from './transport/quick-ack.js';

const usage =
  'usage: sealkeep-tpm [--port 2321] [--host 127.0.0.1] [--state <dir> [--platform-key-file <file>] [--counter-file <file>]]';
const KEY_ENV = 'SEALKEEP_TPM_PLATFORM_KEY';

class UsageError extends Error {}

async function platformKey(file: string | undefined): Promise<Buffer> {
  if (file !== undefined) return parsePlatformKey(await readFile(file));
  const fromEnv = process.env[KEY_ENV];
  delete process.env[KEY_ENV];
  if (!fromEnv) throw new UsageError(`--state needs a platform key: --platform-key-file <file> or ${KEY_ENV}`);
  return parsePlatformKey(fromEnv);
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string', default: '2321' },
        host: { type: 'string', default: '127.0.0.1' },
        state: { type: 'string' },
        'platform-key-file': { type: 'string' },
        'counter-file': { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) {
    console.log(usage);
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65534) throw new UsageError(`--port must be 0–65534, got ${values.port}`);
  if (!values.state && (values['platform-key-file'] || values['counter-file'])) throw new UsageError('--platform-key-file and --counter-file need --state');

  const onInternalError = (e: unknown) => console.error('sealkeep-tpm: internal error:', e);
  let persistent: PersistentTpm | undefined;
  let tpm: Tpm;
  if (values.state) {
    const dir = path.resolve(values.state);
    persistent = await openPersistentTpm({
      path: path.join(dir, 'tpm.state'),
      counterPath: path.resolve(values['counter-file'] ?? `${dir}.counter`),
      platformKey: await platformKey(values['platform-key-file']),
      tpmOptions: { onInternalError },
    });
    tpm = persistent.tpm;
  } else {
    tpm = new Tpm({ onInternalError });
  }

  // With --state, a reply waits until what the command changed is on disk.
  const server = new MssimServer({ tpm, port, host: values.host!, ...(persistent ? { durable: persistent.flush } : {}) });
  await server.listen();
  console.log(
    `sealkeep-tpm: command port ${server.commandPort}, platform port ${server.platformPort} on ${values.host}` +
      (values.state ? `, state in ${path.resolve(values.state)}` : '') +
      (quickAckAvailable() ? '' : ' (native addon missing: TCP_QUICKACK off)'),
  );
  const stop = () =>
    void server
      .close()
      .then(() => persistent?.close())
      .then(
        () => process.exit(0),
        (e: Error) => {
          console.error(`sealkeep-tpm: ${e.message}`);
          process.exit(1);
        },
      );
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: Error) => {
  if (err instanceof StateFileError) {
    console.error(`sealkeep-tpm: ${err.path ? `${err.path}: ` : ''}${err.message}`);
    process.exit(1);
  }
  if (err instanceof UsageError) {
    console.error(`sealkeep-tpm: ${err.message}\n${usage}`);
    process.exit(2);
  }
  console.error(`sealkeep-tpm: ${err.message.split('\n')[0]}`);
  process.exit(1);
});
