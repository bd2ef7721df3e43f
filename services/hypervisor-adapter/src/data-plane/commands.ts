// The adapter's commands that talk to the service (main.ts dispatches):
//   host-init       certify the host TPM if needed; print what the cloud-admin registers
//   attest          attest once; print the adapter's principal and label
//   serve (remote)  attest and keep attesting, start each VM (remote-host.ts), serve its volumes through the data plane

import { readFile } from 'node:fs/promises';
import { launchDigests, manufactureHostTpm, openHostPlatform, openHostTpm, type HostPlatform } from '@sealkeep/sdk';
import { X509Certificate } from 'node:crypto';
import type { CommandLine, ServiceOption } from '../cli-options.js';
import type { Logger } from '../logger.js';
import type { ExportRegistry } from '../nbd/export-registry.js';
import { loadAdapterKey } from './adapter-key.js';
import { pinFileFor, trustedServiceKey } from './service-key.js';
import { adapterCodeManifest } from './code-manifest.js';
import { HostIdentity } from './host-identity.js';
import { RemoteHost, VmConflictError } from './remote-host.js';

/** The hypervisor image the launch measures: a file, or the manifest of the adapter's own code. */
async function mleOf(file: string | undefined): Promise<Buffer> {
  return file ? readFile(file) : adapterCodeManifest();
}

export interface HostInitResult {
  hostTpm: string;
  ekCertificatePem: string;
  manufacturerRootPem: string | null;
  sinitDigest: string;
  mleDigest: string;
}

export async function hostInit(line: CommandLine): Promise<HostInitResult> {
  const tpm = await openHostTpm(line.hostTpm!);
  try {
    const made = await manufactureHostTpm(tpm.client, line.manufacturerDir ?? tpm.dir);
    return {
      hostTpm: tpm.description,
      ekCertificatePem: new X509Certificate(made.ekCertificate).toString(),
      manufacturerRootPem: made.manufacturerRootPem,
      ...launchDigests(await mleOf(line.mleFile)),
    };
  } finally {
    await tpm.close();
  }
}

async function openPlatform(service: ServiceOption): Promise<HostPlatform> {
  return openHostPlatform({ tpm: service.hostTpm, hostName: service.hostName, mle: await mleOf(service.mleFile), ...(service.manufacturerDir ? { manufacturerDir: service.manufacturerDir } : {}) });
}

/** The service key this adapter's sessions must be proven by: --service-key, proven by its evidence, or pinned beside the adapter key. */
function serviceKeyOf(service: ServiceOption, log: Logger) {
  return trustedServiceKey({
    dataUrl: service.dataUrl,
    pinFile: pinFileFor(service.adapterKeyFile),
    log,
    ...(service.serviceKeyFile ? { givenFile: service.serviceKeyFile } : {}),
    ...(service.serviceEvidence ? { evidence: service.serviceEvidence } : {}),
    ...(service.trustOnFirstUse ? { trustOnFirstUse: true } : {}),
  });
}

export async function attestOnce(line: CommandLine, log: Logger): Promise<{ hostId: string; principalId: string; label: string; attestedUntil: string; serviceKeyId: string }> {
  const service = line.service!;
  const platform = await openPlatform(service);
  try {
    const { key } = await loadAdapterKey(service.adapterKeyFile);
    const trusted = await serviceKeyOf(service, log);
    const identity = await HostIdentity.attest({ platform, dataUrl: service.dataUrl, hostId: service.hostId, adapterKey: key, serviceKey: trusted.key, log });
    identity.stop();
    return { hostId: identity.hostId, principalId: identity.principalId, label: identity.label, attestedUntil: identity.attestedUntil.toISOString(), serviceKeyId: trusted.kid };
  } finally {
    await platform.close();
  }
}

export interface RemoteServing {
  host: RemoteHost;
  close(): Promise<void>;
}

/**
 * Attests the host, then starts every --vm (RemoteHost: each on its own; one that does not start
 * is logged and its exports refused, and the others are served). Fails when none starts (with the
 * one VM's error, or every VM's) — unless there is a control socket (--control), where VMs may
 * start later — and when the host does not attest.
 */
export async function serveThroughDataPlane(line: CommandLine, exports: ExportRegistry, log: Logger): Promise<RemoteServing> {
  const service = line.service!;
  const platform = await openPlatform(service);
  let identity: HostIdentity | undefined;
  let host: RemoteHost | undefined;
  const close = async () => {
    identity?.stop();
    try {
      await host?.close();
    } finally {
      await platform.close();
    }
  };
  try {
    const { key, created } = await loadAdapterKey(service.adapterKeyFile);
    if (created) log.warn({ adapterKey: service.adapterKeyFile }, 'made a new adapter key: the host gets a new hypervisor principal when it attests');
    const trusted = await serviceKeyOf(service, log);
    identity = await HostIdentity.attest({ platform, dataUrl: service.dataUrl, hostId: service.hostId, adapterKey: key, serviceKey: trusted.key, log });
    host = new RemoteHost({ identity, exports, log, connections: service.connections });
    for (const vm of line.vms) {
      // A refusal is logged and its exports refused; a conflict is the command line's, and ends the start.
      await host.startVm(vm, line.volumes.filter((v) => v.vmId === vm.vmId)).catch((error: unknown) => {
        if (error instanceof VmConflictError) throw error;
      });
    }
    const { refused } = host;
    if (host.vms.length === 0 && refused.length > 0 && !line.control) {
      const message = (r: (typeof refused)[number]) => (r.error instanceof Error ? r.error.message : String(r.error));
      throw refused.length === 1 ? refused[0]!.error : new AggregateError(refused.map((r) => r.error), `no VM started: ${refused.map((r) => `${r.vmId}: ${message(r)}`).join('; ')}`);
    }
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
  return { host, close };
}
