// Process entry point: read configuration, open and migrate the store, listen, and shut down
// cleanly on SIGINT/SIGTERM. A start-up failure is one line on stderr and a non-zero exit.

import { once } from 'node:events';
import type { Server } from 'node:http';
import { pino } from 'pino';
import { describeStoreConfig, openStore, StoreOpenError, type Store } from '@sealkeep/store';
import { ConfigError, loadConfig } from './config.js';
import { buildListeners } from './server.js';
import type { Plane } from './http/route.js';
import type { Listener } from './config.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = pino({ name: 'sealkeep-kms', level: config.logLevel });
  const store: Store = await openStore(config.store);
  const applied = await store.migrateLatest();
  log.info({ store: describeStoreConfig(config.store), migrationsApplied: applied.length }, 'store ready');

  const layout: Array<[Plane[], Listener]> = [
    [['tenant'], config.tenant],
    [['data'], config.data],
    config.compliance ? [['admin'], config.admin] : [['admin', 'compliance'], config.admin],
    ...(config.compliance ? [[['compliance'], config.compliance] as [Plane[], Listener]] : []),
  ];
  const apps = buildListeners(
    {
      store,
      onInternalError: (err, requestId) => log.error({ err, requestId }, 'internal error'),
      onRequest: (entry) => log.info(entry, 'request'),
    },
    layout.map(([planes]) => planes),
  );
  const servers: Server[] = [];
  for (const [i, [planes, at]] of layout.entries()) {
    const server = apps[i]!.listen(at.port, at.host);
    await once(server, 'listening');
    servers.push(server);
    log.info({ planes, address: server.address() }, 'listening');
  }

  const stop = async (signal: string) => {
    log.info({ signal }, 'shutting down');
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    await store.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err: unknown) => {
  const known = err instanceof StoreOpenError || err instanceof ConfigError;
  const listen = (err as NodeJS.ErrnoException)?.code === 'EADDRINUSE';
  if (known || listen) {
    process.stderr.write(`sealkeep: ${(err as Error).message}\n`);
    process.exit(2);
  }
  process.stderr.write(`sealkeep: unexpected failure at start-up\n${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
