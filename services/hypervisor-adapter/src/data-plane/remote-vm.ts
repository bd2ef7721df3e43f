// A VM whose volumes the adapter serves through the data plane: the tenant's delegation (a token
// from the cloud-management layer naming this adapter) is exchanged for the adapter's own, the
// VM's measured boot is submitted with it, and each volume gets a block session (the service
// releases its key only to a VM started in its approved state, on this attested host) and is
// opened over RemoteSectorCrypto and attached as an NBD export.
//
// When a session ends (410: the host's attestation lapsed, the VM restarted, the key was disabled)
// its export stops: in-flight and later requests fail with EIO, the export is detached so no new
// client can choose it, the volume writes back what it holds (sealed before the end, so nothing
// torn) and closes, and the end is logged with its reason.

import { exchangeToken, openBlockSession, startVm, type BlockSession, type StartVmOptions, type VmBoot } from '@sealkeep/sdk';
import type { Logger } from '../logger.js';
import type { ExportRegistry } from '../nbd/export-registry.js';
import type { EncryptedFileVolume, VolumeLimits } from '../volume/encrypted-file-volume.js';
import { openEncryptedFileVolume } from '../volume/open-volume.js';
import { RemoteSectorCrypto } from '../volume/remote-sector-crypto.js';
import type { HostIdentity } from './host-identity.js';

export interface RemoteVolumeSpec {
  /** The NBD export name. */
  name: string;
  /** The volume's own directory (made, and the volume created there, on first use). */
  dir: string;
  /** The service's volume id: the volume's UUID here too, bound into every tag. */
  volumeId: string;
  readOnly?: boolean;
  limits?: Partial<VolumeLimits>;
}

export interface RemoteVmOptions {
  identity: HostIdentity;
  tenantId: string;
  vmId: string;
  /** A delegation token naming this adapter (identity.label) as its next actor. */
  delegation: string;
  /** The VM's measured boot. */
  boot: StartVmOptions['events'];
  volumes: RemoteVolumeSpec[];
  exports: ExportRegistry;
  log: Logger;
  /** Data-plane connections per volume. */
  connections?: number;
}

export interface ServedVolume {
  spec: RemoteVolumeSpec;
  session: BlockSession;
  crypto: RemoteSectorCrypto;
  volume: EncryptedFileVolume;
  /** Null while served; why it stopped, once it has. */
  stopped: string | null;
  /** Settles when the stopped volume has closed. */
  closed: Promise<void>;
}

export class RemoteVm {
  readonly boot: VmBoot;
  readonly volumes: ServedVolume[] = [];
  readonly #o: RemoteVmOptions;

  private constructor(o: RemoteVmOptions, boot: VmBoot) {
    this.#o = o;
    this.boot = boot;
  }

  /** Starts the VM at the service, then opens and attaches each of its volumes. */
  static async start(o: RemoteVmOptions): Promise<RemoteVm> {
    const { identity, log } = o;
    const own = await exchangeToken(identity.dataUrl, identity.signer(), { subjectToken: o.delegation });
    const signer = identity.signer(own.accessToken);
    const boot = await startVm({ dataUrl: identity.dataUrl, signer, tenantId: o.tenantId, vmId: o.vmId, events: o.boot });
    log.info({ vmId: o.vmId, bootId: boot.bootId, policyResult: boot.policyResult, vpcr1: boot.vpcrs['1'], vpcr8: boot.vpcrs['8'] }, 'VM started (measured boot)');
    const vm = new RemoteVm(o, boot);
    try {
      for (const spec of o.volumes) await vm.#serve(spec, signer);
    } catch (error) {
      await vm.close().catch(() => {});
      throw error;
    }
    return vm;
  }

  async #serve(spec: RemoteVolumeSpec, signer: ReturnType<HostIdentity['signer']>): Promise<void> {
    const { identity, tenantId, vmId, log, exports } = this.#o;
    const session = await openBlockSession({ dataUrl: identity.dataUrl, signer, tenantId, vmId, volumeId: spec.volumeId, connections: this.#o.connections ?? 8, serviceKey: identity.serviceKey });
    let crypto: RemoteSectorCrypto | undefined;
    let volume: EncryptedFileVolume;
    try {
      volume = await openEncryptedFileVolume({
        dir: spec.dir,
        create: { size: Number(session.sectors) * session.sectorSize, sectorSize: session.sectorSize },
        uuid: spec.volumeId,
        crypto: () => (crypto = new RemoteSectorCrypto(session)),
        readOnly: spec.readOnly ?? false,
        log,
        ...(spec.limits ? { limits: spec.limits } : {}),
      });
    } catch (error) {
      if (!crypto) await session.close().catch(() => {});
      throw error;
    }
    const served: ServedVolume = { spec, session, crypto: crypto!, volume, stopped: null, closed: Promise.resolve() };
    this.volumes.push(served);
    exports.attach(spec.name, volume);
    session.onEnded((e) => this.#stop(served, `block session ended (${e.reason})`));
    log.info({ export: spec.name, vmId, volumeId: spec.volumeId, sessionId: session.id, size: volume.size, sectorSize: volume.sectorSize, integrity: session.integrity }, 'volume attached through the data plane');
  }

  /** Stops serving a volume: EIO from now on, no new clients, written back and closed. */
  #stop(served: ServedVolume, reason: string): void {
    if (served.stopped) return;
    served.stopped = reason;
    const { exports, log, vmId } = this.#o;
    served.volume.stop(reason);
    if (exports.get(served.spec.name) === served.volume) exports.detach(served.spec.name);
    log.error({ export: served.spec.name, vmId, volumeId: served.spec.volumeId, sessionId: served.session.id, reason }, 'export stopped: its volume key is no longer released; requests fail with EIO');
    served.closed = served.volume.close().catch((err: unknown) => log.error({ export: served.spec.name, err }, 'the stopped volume did not close cleanly'));
  }

  /** Detaches and closes every volume (their sessions end at the service). */
  async close(): Promise<void> {
    const { exports, log } = this.#o;
    await Promise.all(
      this.volumes.map(async (served) => {
        if (!served.stopped) {
          served.stopped = 'closed';
          if (exports.get(served.spec.name) === served.volume) exports.detach(served.spec.name);
          served.closed = served.volume.close();
        }
        await served.closed;
        const ended = await served.crypto.closed;
        if (ended) log.warn({ export: served.spec.name, err: ended }, 'the block session did not close cleanly');
      }),
    );
  }
}
