// The NBD benchmark's adapter as it runs in production: every sector encrypted, signed, verified
// and decrypted in the service through a block session, the volume key never in the adapter.
// The service runs in the benchmark's own process (the adapter tests' world: a fresh store, the
// service TPM, two block workers, an emulated host TPM registered and its launch approved); the
// adapter runs in a process of its own, attested, with the VM started measured and the volume
// attached (integrity high) before its export answers.

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { serviceWorld, type ServiceWorld } from '../src/data-plane/service.fixture.js';
import { adapterCodeManifest } from '../src/data-plane/code-manifest.js';
import { attestOnce } from '../src/data-plane/commands.js';
import { parseCommandLine } from '../src/cli-options.js';
import { silentLogger } from '../src/logger.js';

export interface ThroughService {
  world: ServiceWorld;
  /** Arguments for `main.ts` that serve the volume as export `name` on `port`. */
  serveArgs(port: number): string[];
}

export async function throughService(dir: string, name: string, volumeBytes: number): Promise<ThroughService> {
  const world = await serviceWorld({ mle: adapterCodeManifest() });
  const vm = await world.approvedVm(dir, { vmName: 'bench-vm', volumeName: name, volumeBytes });
  const host = ['--service', world.dataUrl, '--adapter-key', path.join(dir, 'adapter.pem'), '--host-tpm', world.hostTpmDir, '--host-id', world.hostId, '--host-name', 'host-07'];
  const attested = await attestOnce(parseCommandLine(['attest', ...host]), silentLogger);
  const delegation = path.join(dir, 'bench-vm.delegation');
  writeFileSync(delegation, await world.delegationFor(attested.label), { mode: 0o600 });
  return {
    world,
    serveArgs: (port) => [
      'serve',
      '--log-level', 'error',
      '--listen', `127.0.0.1:${port}`,
      ...host,
      '--vm', `tenant=${world.tenantId},id=${vm.vmId},delegation=${delegation},boot-image=${vm.bootImage},config=${vm.configFile}`,
      '--volume', `name=${name},dir=${path.join(dir, 'remote-volume')},id=${vm.volumeId}`,
    ],
  };
}
