// The NBD benchmark's adapter as it runs in production: every sector encrypted, signed, verified
// and decrypted in the service through a block session, the volume key never in the adapter.
// The service runs in the benchmark's own process (the adapter tests' world: a fresh store, the
// service TPM, two block workers, an emulated host TPM registered and its launch approved); the
// adapter runs in a process of its own, attested, with the VM started measured and the volume
// attached (integrity high) before its export answers.

import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { vmReferenceValues } from '@sealkeep/sdk';
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
  const t = `/v1/tenants/${world.tenantId}`;
  const vm = await world.call(world.tenantUrl, world.bob, 'POST', `${t}/vms`, { name: 'bench-vm' });
  const vmId = vm.vmId as string;
  const vol = await world.call(world.tenantUrl, world.bob, 'POST', `${t}/vms/${vmId}/volumes`, {
    name,
    sizeBytes: volumeBytes,
    sectorSize: 4096,
    cia: { confidentiality: 'high', integrity: 'high', availability: 'moderate' },
  });
  const volumeId = (vol.volumes as Array<{ volumeId: string }>)[0]!.volumeId;
  const key = await world.call(world.tenantUrl, world.officer, 'POST', `${t}/keys`, { name: 'bench-kek', type: 'aes-256' });

  const bootImage = path.join(dir, 'boot.img');
  const config = path.join(dir, 'vm.json');
  writeFileSync(bootImage, Buffer.concat([Buffer.from('boot sector '), randomBytes(64 << 10)]));
  writeFileSync(config, '{"cpus":2,"memoryMiB":2048,"secureBoot":true}');
  const referenceValues = vmReferenceValues({ configuration: readFileSync(config), bootVolumeDigest: createHash('sha256').update(readFileSync(bootImage)).digest() });
  await world.call(world.tenantUrl, world.officer, 'PUT', `${t}/vms/${vmId}/release-policy`, { keyId: key.keyId, referenceValues });

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
      '--vm', `tenant=${world.tenantId},id=${vmId},delegation=${delegation},boot-image=${bootImage},config=${config}`,
      '--volume', `name=${name},dir=${path.join(dir, 'remote-volume')},id=${volumeId}`,
    ],
  };
}
