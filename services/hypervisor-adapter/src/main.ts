#!/usr/bin/env node
// Process entry point of the adapter's NBD server: open each --volume (creating it if asked)
// with a local key, attach it as an export, listen, and on SIGINT/SIGTERM close the listener and
// every volume cleanly (checkpointed: nothing to replay at the next start). Until the adapter is
// connected to the service's data plane, keys are local: a key file per volume, made if missing,
// or a throw-away key for a new volume. A start-up failure is one line on stderr and exit 1.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { selectBlockCryptoEngine } from '@sealkeep/crypto';
import { CommandLineError, parseCommandLine, type VolumeOption } from './cli-options.js';
import { createJsonLogger, type Logger } from './logger.js';
import { ExportRegistry } from './nbd/export-registry.js';
import { NbdServer } from './nbd/nbd-server.js';
import type { BlockVolume } from './volume/block-volume.js';
import { openEncryptedFileVolume } from './volume/open-volume.js';
import { LocalSectorCrypto, generateVolumeKeys, readVolumeKeyFile, writeVolumeKeyFile, type VolumeKeys } from './volume/sector-crypto.js';
import { METADATA_FILE } from './volume/volume-metadata.js';

async function localKeys(volume: VolumeOption, log: Logger): Promise<VolumeKeys> {
  if (volume.keyFile && existsSync(volume.keyFile)) return readVolumeKeyFile(volume.keyFile);
  if (volume.keyFile) {
    const keys = generateVolumeKeys();
    await writeVolumeKeyFile(volume.keyFile, keys);
    log.warn({ export: volume.name, keyFile: volume.keyFile }, 'generated a local volume key file: keep it apart from the volume');
    return keys;
  }
  if (existsSync(path.join(volume.dir, METADATA_FILE))) throw new Error(`volume ${volume.name} exists in ${volume.dir}: give its key=FILE`);
  log.warn({ export: volume.name }, 'throw-away key: this volume cannot be read after the process ends');
  return generateVolumeKeys();
}

async function main(): Promise<void> {
  const options = parseCommandLine(process.argv.slice(2));
  const log = createJsonLogger(options.logLevel);
  const engine = selectBlockCryptoEngine();
  const exports = new ExportRegistry();
  const volumes: BlockVolume[] = [];
  const closeVolumes = () => Promise.allSettled(volumes.map((volume) => volume.close()));
  try {
    for (const option of options.volumes) {
      const keys = await localKeys(option, log);
      const volume = await openEncryptedFileVolume({
        dir: option.dir,
        ...(option.size === undefined ? {} : { create: { size: option.size, ...(option.sectorSize ? { sectorSize: option.sectorSize } : {}) } }),
        crypto: ({ volumeId, sectorSize }) => new LocalSectorCrypto({ keys, volumeId, sectorSize, engine }),
        readOnly: option.readOnly,
        limits: {
          ...(option.pendingLimit === undefined ? {} : { pendingBytes: option.pendingLimit }),
          ...(option.journalLimit === undefined ? {} : { journalBytes: option.journalLimit }),
        },
        log,
      });
      volumes.push(volume);
      exports.attach(option.name, volume);
      log.info({ export: option.name, dir: option.dir, size: volume.size, sectorSize: volume.sectorSize, readOnly: volume.readOnly }, 'volume attached');
    }
  } catch (error) {
    await closeVolumes();
    throw error;
  }
  const server = new NbdServer({ exports, log });
  const address = await server.listen(options.port, options.host);
  log.info({ host: address.address, port: address.port, exports: exports.names(), engine: engine.name }, 'listening');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    await server.close();
    const closed = await closeVolumes();
    const failed = closed.filter((c) => c.status === 'rejected');
    for (const f of failed) log.error({ err: (f as PromiseRejectedResult).reason }, 'a volume did not close cleanly');
    process.exit(failed.length ? 1 : 0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  const message = error instanceof CommandLineError || error instanceof Error ? error.message : String(error);
  process.stderr.write(`sealkeep-hypervisor-adapter: ${message}\n`);
  process.exit(error instanceof CommandLineError ? 2 : 1);
});
