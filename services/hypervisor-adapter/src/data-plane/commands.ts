// The adapter's commands that talk to the service (main.ts dispatches):
//   host-init       certify the host TPM if needed; print what the cloud-admin registers
//   attest          attest once; print the adapter's principal and label
//   serve (remote)  attest and keep attesting, start each VM, serve its volumes through the data plane

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { digestFile, launchDigests, manufactureHostTpm, openHostPlatform, openHostTpm, vmBootLog, type HostPlatform, type StartVmOptions } from '@sealkeep/sdk';
import { X509Certificate } from 'node:crypto';
import type { CommandLine, ServiceOption, VmOption } from '../cli-options.js';
import type { Logger } from '../logger.js';
import type { ExportRegistry } from '../nbd/export-registry.js';
import { loadAdapterKey } from './adapter-key.js';
import { pinFileFor, trustedServiceKey } from './service-key.js';
import { adapterCodeManifest } from './code-manifest.js';
import { HostIdentity } from './host-identity.js';
import { RemoteVm } from './remote-vm.js';

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

/** The VM's measured boot: a CEL JSON file, or built from its boot image and configuration as they are here. */
export async function bootEventsOf(vm: VmOption): Promise<StartVmOptions['events']> {
  if (vm.bootLogFile) return JSON.parse(await readFile(vm.bootLogFile, 'utf8')) as unknown[];
  return vmBootLog({
    configuration: await readFile(vm.configFile!),
    bootVolumeDigest: await digestFile(vm.bootImage!),
    bootVolumeName: path.basename(vm.bootImage!),
    ...(vm.kernelFile ? { kernelDigest: await digestFile(vm.kernelFile), kernelName: path.basename(vm.kernelFile) } : {}),
  });
}

export interface RemoteServing {
  identity: HostIdentity;
  vms: RemoteVm[];
  /** The VMs that did not start, and why: their exports are refused with the reason. */
  refused: Array<{ vmId: string; error: unknown }>;
  close(): Promise<void>;
}

/**
 * Attests the host, then starts every --vm and attaches its volumes to `exports`. Each VM stands
 * alone: one that does not start (its measurements refused, a volume rolled back, its delegation
 * spent) is logged and its exports refused with the reason, and the host's other VMs — other
 * tenants' among them — are served. Only when none starts does serving fail (with the one VM's
 * error, or every VM's); a host that does not attest serves nothing.
 */
export async function serveThroughDataPlane(line: CommandLine, exports: ExportRegistry, log: Logger): Promise<RemoteServing> {
  const service = line.service!;
  const platform = await openPlatform(service);
  const vms: RemoteVm[] = [];
  const refused: RemoteServing['refused'] = [];
  let identity: HostIdentity | undefined;
  const close = async () => {
    identity?.stop();
    const closed = await Promise.allSettled(vms.map((vm) => vm.close()));
    await platform.close();
    const failed = closed.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  };
  try {
    const { key, created } = await loadAdapterKey(service.adapterKeyFile);
    if (created) log.warn({ adapterKey: service.adapterKeyFile }, 'made a new adapter key: the host gets a new hypervisor principal when it attests');
    const trusted = await serviceKeyOf(service, log);
    identity = await HostIdentity.attest({ platform, dataUrl: service.dataUrl, hostId: service.hostId, adapterKey: key, serviceKey: trusted.key, log });
    for (const vm of line.vms) {
      const delegation = async () => (await readFile(vm.delegationFile, 'utf8')).trim();
      const volumes = line.volumes
        .filter((v) => v.vmId === vm.vmId)
        .map((v) => ({
          name: v.name,
          dir: v.dir,
          volumeId: v.volumeId!,
          readOnly: v.readOnly,
          limits: { ...(v.pendingLimit === undefined ? {} : { pendingBytes: v.pendingLimit }), ...(v.journalLimit === undefined ? {} : { journalBytes: v.journalLimit }) },
        }));
      try {
        vms.push(await RemoteVm.start({ identity, tenantId: vm.tenantId, vmId: vm.vmId, delegation, boot: await bootEventsOf(vm), volumes, exports, log, connections: service.connections }));
      } catch (error) {
        refused.push({ vmId: vm.vmId, error });
        const reason = `its VM did not start: ${error instanceof Error ? error.message : String(error)}`;
        for (const volume of volumes) exports.refuse(volume.name, reason);
        log.error({ vmId: vm.vmId, tenantId: vm.tenantId, exports: volumes.map((v) => v.name), err: error }, 'VM not served: its exports are refused; the host\'s other VMs are served');
      }
    }
    if (vms.length === 0 && refused.length > 0) throw refused.length === 1 ? refused[0]!.error : new AggregateError(refused.map((r) => r.error), `no VM started: ${refused.map((r) => `${r.vmId}: ${r.error instanceof Error ? r.error.message : String(r.error)}`).join('; ')}`);
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
  return { identity, vms, refused, close };
}
