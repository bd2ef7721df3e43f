// Process entry point: read configuration, open and migrate the store, open the host TPM and
// start measured (platform/measured-start.ts: fail closed), sign audit checkpoints, listen, and
// shut down cleanly on SIGINT/SIGTERM. A start-up failure is one line on stderr and a non-zero exit.

import { once } from 'node:events';
import type { Server } from 'node:http';
import type { Server as TlsServer } from 'node:https';
import { createLogger } from './logging.js';
import { describeStoreConfig, openStore, StoreOpenError, type Store } from '@sealkeep/store';
import { randomUUID } from 'node:crypto';
import { ConfigError, loadConfig, measuredConfiguration } from './config.js';
import { loadSrk, openHostTpm } from './platform/host-tpm.js';
import { KeyEngine } from './features/keys/key-engine.js';
import { keysContext, type KeysContext } from './features/keys/keys-context.js';
import { startKeySweeper } from './features/keys/sweeper.js';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { measuredStart, StartRefused } from './platform/measured-start.js';
import { startCheckpointer, TpmCheckpointSigner } from './audit/checkpointer.js';
import { purgeExpiredProofs } from './auth/request-proof.js';
import { ScanRunner } from './features/scans/runner.js';
import { failInterruptedScans } from './features/scans/store.js';
import { buildListeners, type ServiceDeps } from './server.js';
import { serverFor } from './http/listen.js';
import { TlsListeners } from './http/tls-renewal.js';
import { BlockPool } from './features/blocks/block-pool.js';
import { letHeapGrowForDataPlane } from './platform/heap-growth.js';
import { BlockSessions } from './features/blocks/block-sessions.js';
import { openVmTpms } from './features/vms/vm-tpms.js';
import { deriveTokenKey } from './auth/token-key.js';
import type { Plane } from './http/route.js';
import type { Listener, ServiceConfig } from './config.js';

/** The configured manufacturer roots, and the in-process TPM's own (emulated) manufacturer's. */
function trustedManufacturerRoots(config: ServiceConfig): string[] {
  const own = path.join(config.dataDir, 'manufacturer-root.pem');
  return [...config.manufacturerRoots.map((r) => r.pem), ...(config.tpm === null && existsSync(own) ? [readFileSync(own, 'utf8')] : [])];
}

async function main(): Promise<void> {
  letHeapGrowForDataPlane();
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  // From here a SIGHUP reads the certificate again (with TLS off it ends the process, as before).
  const tls = config.tls && new TlsListeners(config.tls, log);
  const store: Store = await openStore(config.store);
  const applied = await store.migrateLatest();
  log.info({ store: describeStoreConfig(config.store), migrationsApplied: applied.length }, 'store ready');

  const host = await openHostTpm({ url: config.tpm, dataDir: config.dataDir });
  let started;
  try {
    started = await measuredStart(store.db, host, measuredConfiguration(config), randomUUID());
  } catch (e) {
    await host.close().catch(() => {});
    await store.close();
    throw e;
  }
  const { state } = started;
  log.info({ tpm: host.description, codeDigest: state.measurements.codeDigest, configurationDigest: state.measurements.configurationDigest, root: state.root }, 'measured start');
  if (state.root === 'uninitialised') log.warn('no operator yet: stop the service, run `sealkeep admin init`, and start it again to create the service root');
  // The replay cache only needs a proof's id while the proof could still be accepted.
  const purge = setInterval(() => void purgeExpiredProofs(store.db).catch((err) => log.error({ err }, 'replay-cache purge failed')), 60_000);
  purge.unref();
  // Tenant keys need the unsealed root (their TPM objects' authValues derive from it).
  let keys: KeysContext | undefined;
  if (started.root) {
    const engine = new KeyEngine(host.client, await loadSrk(host.client), state.ak, started.root);
    const rootFile = path.join(config.dataDir, 'manufacturer-root.pem');
    keys = await keysContext(host, engine, config.tpm === null && existsSync(rootFile) ? readFileSync(rootFile, 'utf8') : null);
  }
  // The data plane: VM vTPMs (their state encrypted under a key derived from the root), block
  // sessions on worker threads, and the AK for volume attestations.
  let data: ServiceDeps['data'];
  let sweeping: { stop(): void } | undefined;
  if (started.root && keys) {
    const sessions = new BlockSessions(store.db, new BlockPool(), (err) => log.error({ err }, 'block audit write failed'));
    keys.engine.onForget((keyId) => void sessions.endWhere((s) => keyId === undefined || s.kekId === keyId, 'key-disabled'));
    sweeping = sessions.startSweeping((err) => log.error({ err }, 'block session sweep failed'));
    data = { vtpms: await openVmTpms(config.dataDir, started.root), sessions, attestation: { tpm: host.client, akHandle: state.ak.handle, akCertificatePem: keys.endorsement?.akCertificatePem ?? null } };
  }
  const sweeper = startKeySweeper(store.db, keys, (err) => log.error({ err }, 'key sweep failed'));
  const checkpointer = startCheckpointer(store.db, new TpmCheckpointSigner(host.client, state.ak), config.checkpoint, (err) => log.error({ err }, 'audit checkpoint failed'));
  // Compliance scans run in this process; scans a stopped node left behind are failed.
  const scans = new ScanRunner(store.db, { onError: (err, scanId) => log.error({ err, scanId }, 'compliance scan failed') });
  await failInterruptedScans(store.db);

  const layout: Array<[Plane[], Listener]> = [
    [['tenant'], config.tenant],
    [['data'], config.data],
    config.compliance ? [['admin'], config.admin] : [['admin', 'compliance'], config.admin],
    ...(config.compliance ? [[['compliance'], config.compliance] as [Plane[], Listener]] : []),
  ];
  const apps = buildListeners(
    {
      store,
      service: state,
      // Delegation tokens are signed with a key derived from the root, so every node that
      // unsealed the same root accepts them; uninitialised, the process signs with its own.
      ...(started.root ? { tokenKey: deriveTokenKey(started.root) } : {}),
      ...(keys ? { keys } : {}),
      ...(data ? { data } : {}),
      hosts: { tpm: host.client, settings: { trustedRoots: trustedManufacturerRoots(config), freshSeconds: config.hostAttestationSeconds } },
      scans,
      onInternalError: (err, requestId) => log.error({ err, requestId }, 'internal error'),
      onRequest: (entry) => log.info(entry, 'request'),
      onConnectionWarning: (entry, message) => log.warn(entry, message),
    },
    layout.map(([planes]) => planes),
  );
  const servers: Server[] = [];
  for (const [i, [planes, at]] of layout.entries()) {
    // (the data plane has a listener of its own, which SEALKEEP_TLS_DATA_PLANE=off leaves plain)
    const overTls = !tls || (planes.includes('data') && config.tls?.dataPlane === 'off') ? null : tls;
    const server = serverFor(apps[i]!, overTls?.credentials).listen(at.port, at.host);
    overTls?.attach(server as TlsServer);
    await once(server, 'listening');
    servers.push(server);
    log.info({ planes, address: server.address(), tls: overTls !== null }, 'listening');
  }

  const stop = async (signal: string) => {
    log.info({ signal }, 'shutting down');
    const closed = Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    // Ending the sessions ends their block streams, whose connections the listeners wait for.
    await data?.sessions.closeAll();
    await closed;
    clearInterval(purge);
    await scans.stop();
    sweeping?.stop();
    await data?.sessions.pool.destroy();
    // vTPMs are suspended after every operation (vm-tpms.ts); one an operation still holds is
    // suspended here, so the next start resumes every VM's vTPM with its PCRs.
    await data?.vtpms.close();
    sweeper.stop();
    await checkpointer.stop();
    await host.close();
    await store.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err: unknown) => {
  const known = err instanceof StoreOpenError || err instanceof ConfigError || err instanceof StartRefused;
  const listen = (err as NodeJS.ErrnoException)?.code === 'EADDRINUSE';
  if (known || listen) {
    process.stderr.write(`sealkeep: ${(err as Error).message}\n`);
    process.exit(2);
  }
  process.stderr.write(`sealkeep: unexpected failure at start-up\n${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
