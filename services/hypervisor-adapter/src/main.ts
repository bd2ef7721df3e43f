#!/usr/bin/env node
// Process entry point of the adapter (commands in cli-options.ts).
//
// serve: open each --volume and attach it as an NBD export, listen, and on SIGINT/SIGTERM close
// the listener and every volume cleanly (checkpointed: nothing to replay at the next start).
// Volumes are served either with local keys (a key file per volume, made if missing, or a
// throw-away key for a new volume), or — with --service — through the service's data plane: the
// host attests with its TPM, each VM starts measured, and each volume's key stays in the service,
// reached through a block session (data-plane/); with --control, VMs start and stop on a Unix
// socket while serving (data-plane/control-socket.ts). host-init, attest and vm print JSON on stdout.
// A start-up failure is one line on stderr and exit 1 (2 for a bad command line).

import { existsSync } from 'node:fs';
import path from 'node:path';
import { selectBlockCryptoEngine } from '@sealkeep/crypto';
import { CommandLineError, parseCommandLine, type CommandLine, type VolumeOption } from './cli-options.js';
import { attestOnce, hostInit, serveThroughDataPlane } from './data-plane/commands.js';
import { vmCommand } from './data-plane/control-client.js';
import { listenForControl, type ControlSocket } from './data-plane/control-socket.js';
import { createJsonLogger, type Logger } from './logger.js';
import { ExportRegistry } from './nbd/export-registry.js';
import { NbdServer } from './nbd/nbd-server.js';
import { claimSocketPath } from './nbd/socket-file.js';
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

/** Opens every --volume with its local key and attaches it; returns what closes them (and answers their failures). */
async function serveLocally(options: CommandLine, exports: ExportRegistry, log: Logger): Promise<() => Promise<unknown[]>> {
  const engine = selectBlockCryptoEngine();
  const volumes: BlockVolume[] = [];
  const closeVolumes = async () => (await Promise.allSettled(volumes.map((volume) => volume.close()))).flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
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
      log.info({ export: option.name, dir: option.dir, size: volume.size, sectorSize: volume.sectorSize, readOnly: volume.readOnly, engine: engine.name }, 'volume attached');
    }
  } catch (error) {
    await closeVolumes();
    throw error;
  }
  return closeVolumes;
}

/** Attaches the volumes (local keys, or through the data plane), listens, and closes it all cleanly on SIGINT/SIGTERM. */
async function serve(options: CommandLine, log: Logger): Promise<void> {
  const { listen } = options;
  // A socket path another adapter serves (or a file) is refused before any volume opens or the host attests; the bind claims it again.
  if ('socketPath' in listen) await claimSocketPath(listen.socketPath);
  const exports = new ExportRegistry();
  let closeVolumes: () => Promise<unknown[]>;
  if (options.service) {
    const remote = await serveThroughDataPlane(options, exports, log);
    let control: ControlSocket | undefined;
    try {
      if (options.control) control = await listenForControl(options.control, remote.host, log);
    } catch (error) {
      await remote.close().catch(() => {});
      throw error;
    }
    if (control) log.info({ control: options.control }, 'control socket listening: VMs start and stop on it');
    // The control socket closes first: no VM starts while the others are closing.
    closeVolumes = async () => {
      await control?.close();
      return remote.close().then(() => [], (error: unknown) => [error]);
    };
  } else closeVolumes = await serveLocally(options, exports, log);

  const server = new NbdServer({ exports, log });
  try {
    if ('socketPath' in listen) {
      await server.listenOnSocket(listen.socketPath);
      log.info({ socket: listen.socketPath, exports: exports.names() }, 'listening');
    } else {
      const address = await server.listen(listen.port, listen.host);
      log.info({ host: address.address, port: address.port, exports: exports.names() }, 'listening');
    }
  } catch (error) {
    await closeVolumes();
    throw error;
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    await server.close();
    const failures = await closeVolumes();
    for (const err of failures) log.error({ err }, 'a volume did not close cleanly');
    process.exit(failures.length ? 1 : 0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

async function main(): Promise<void> {
  const options = parseCommandLine(process.argv.slice(2));
  const log = createJsonLogger(options.logLevel);
  if (options.command === 'host-init') return void process.stdout.write(JSON.stringify(await hostInit(options), null, 2) + '\n');
  if (options.command === 'attest') return void process.stdout.write(JSON.stringify(await attestOnce(options, log), null, 2) + '\n');
  if (options.command === 'vm') return void (process.exitCode = await vmCommand(options));
  await serve(options, log);
}

main().catch((error: unknown) => {
  const message = error instanceof CommandLineError || error instanceof Error ? error.message : String(error);
  process.stderr.write(`sealkeep-hypervisor-adapter: ${message}\n`);
  process.exit(error instanceof CommandLineError ? 2 : 1);
});
