// Starting a VM as its host's adapter does it: the VM's measured boot as a TCG CEL log in
// Sealkeep's vPCR layout (packages/tpm, platform/vm-boot.ts), sent to the data plane with the
// tenant's delegation; the service extends it into the VM's vTPM and compares it with the
// release policy.
//
//   PCR 0  firmware: its version (EV_S_CRTM_VERSION), its image (EV_POST_CODE), a separator
//   PCR 1  the VM configuration bytes (EV_PLATFORM_CONFIG_FLAGS, digest = SHA-256 of them)
//   PCR 4  a separator, then the kernel or boot loader image (EV_IPL), when there is one
//   PCR 8  the boot volume image (EV_IPL "boot-volume <name>", digest = SHA-256 of the image)
//
// The tenant's officer computes the same two digests from their own copies — SHA-256 of the
// configuration bytes and of the boot image — and writes them as the release policy's
// `events.configuration` and `events.bootVolume` (vmReferenceValues).

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { CelLog, type CelHashAlg, type CelRecord } from '@sealkeep/tpm';
import { signedRequest, type Signer } from '../client.js';

export interface VmBootInputs {
  /** The VM's configuration, exactly as measured (e.g. canonical JSON). */
  configuration: Buffer;
  /** SHA-256 of the boot volume image (digestFile). */
  bootVolumeDigest: Buffer;
  /** What the boot volume event names, e.g. the image's file name or the volume id. */
  bootVolumeName?: string;
  /** SHA-256 of the kernel or boot loader image, when the host loads one. */
  kernelDigest?: Buffer;
  kernelName?: string;
  /** The virtual firmware: its version string and SHA-256 of its image. */
  firmware?: { version: string; digest: Buffer };
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest();
const ofData = (data: Buffer): Array<[CelHashAlg, Buffer]> => [['sha256', sha256(data)]];

/** Sealkeep's default virtual firmware, as its version string and image digest are measured. */
export const DEFAULT_FIRMWARE = { version: 'sealkeep-vfw 1.0', digest: sha256(Buffer.from('sealkeep virtual firmware 1.0')) };

/** The VM's boot log: the events a vTPM measures as the VM starts. */
export function vmBootLog(inputs: VmBootInputs): CelLog {
  const log = new CelLog();
  const firmware = inputs.firmware ?? DEFAULT_FIRMWARE;
  const separator = Buffer.alloc(4);
  const version = Buffer.from(`${firmware.version}\0`, 'utf16le');
  log.appendEvent(0, 'EV_S_CRTM_VERSION', version, ofData(version));
  log.appendEvent(0, 'EV_POST_CODE', Buffer.from('firmware volume'), [['sha256', firmware.digest]]);
  log.appendEvent(0, 'EV_SEPARATOR', separator, ofData(separator));
  log.appendEvent(1, 'EV_PLATFORM_CONFIG_FLAGS', inputs.configuration, ofData(inputs.configuration));
  if (inputs.kernelDigest) {
    log.appendEvent(4, 'EV_SEPARATOR', separator, ofData(separator));
    log.appendEvent(4, 'EV_IPL', Buffer.from(`kernel ${inputs.kernelName ?? 'image'}`), [['sha256', inputs.kernelDigest]]);
  }
  log.appendEvent(8, 'EV_IPL', Buffer.from(`boot-volume ${inputs.bootVolumeName ?? 'image'}`), [['sha256', inputs.bootVolumeDigest]]);
  return log;
}

/** The release policy's reference values for a VM booted with these inputs (what the officer writes). */
export function vmReferenceValues(inputs: Pick<VmBootInputs, 'configuration' | 'bootVolumeDigest'>): { events: { configuration: string; bootVolume: string } } {
  return { events: { configuration: sha256(inputs.configuration).toString('hex'), bootVolume: inputs.bootVolumeDigest.toString('hex') } };
}

/** SHA-256 of a file, streamed (boot images are large). */
export function digestFile(path: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest()));
  });
}

export interface VmBoot {
  bootId: string;
  vmId: string;
  hostId: string;
  bootedAt: string;
  /** sha256 vPCRs, index → hex. */
  vpcrs: Record<string, string>;
  /** Whether the vPCRs meet the VM's release policy: match, mismatch or no-policy. */
  policyResult: 'match' | 'mismatch' | 'no-policy';
  events: number;
}

export interface StartVmOptions {
  dataUrl: string;
  /** The attested adapter acting for the tenant: its signer must carry the delegation token. */
  signer: Signer;
  tenantId: string;
  vmId: string;
  /** The measured boot: a CelLog or its CEL JSON records. */
  events: CelLog | readonly CelRecord[] | readonly unknown[];
}

/** POST /v1/tenants/{t}/vms/{vm}/boot: the VM starts on this host; its boot becomes the current one. */
export async function startVm(o: StartVmOptions): Promise<VmBoot> {
  if (!o.signer.delegation) throw new Error("a VM starts for a tenant's principal: the signer needs a delegation token");
  const events = o.events instanceof CelLog ? o.events.toJSON() : o.events;
  return (await signedRequest(o.dataUrl, o.signer, 'POST', `/v1/tenants/${o.tenantId}/vms/${o.vmId}/boot`, { events })) as VmBoot;
}
