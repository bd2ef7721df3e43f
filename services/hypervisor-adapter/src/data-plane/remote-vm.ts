// A VM whose volumes the adapter serves through the data plane: the tenant's delegation (a token
// from the cloud-management layer naming this adapter) is exchanged for the adapter's own, the
// VM's measured boot is submitted with it, and each volume gets a block session (the service
// releases its key only to a VM started in its approved state, on this attested host) and is
// opened over RemoteSectorCrypto — the root of its tags recorded with the service, which refuses a
// volume that is not in the state it was last closed in (rolled back at rest), and recorded again
// at its clean close — and attached as an NBD export.
//
// When a session ends because the key's release did (410: the host's attestation lapsed, the VM
// restarted, the key was disabled) its export stops: in-flight and later requests fail with EIO,
// the export is detached so no new client can choose it, the volume writes back what it holds
// (sealed before the end, so nothing torn) and closes, and the end is logged with its reason, which
// a client choosing the export is told too (NBD_REP_ERR_POLICY). When only the session ran out
// (idle, its node stopping or not holding it: RemoteSectorCrypto's `renewable`), the export goes
// on: the next request opens a new session under a fresh delegation (read again: each is exchanged
// once), and the service checks every release condition again — a refusal then stops the export as
// above; no fresh delegation, or no service, fails that request. A volume that finds a chunk of its
// tags altered at rest after its open stops itself, and its export stops the same way.

import { exchangeToken, openBlockSession, ReleaseRefusedError, ServiceIdentityError, startVm, type BlockSession, type SessionEndedError, type StartVmOptions, type VmBoot } from '@sealkeep/sdk';
import type { Logger } from '../logger.js';
import type { ExportRegistry } from '../nbd/export-registry.js';
import type { EncryptedFileVolume, VolumeLimits } from '../volume/encrypted-file-volume.js';
import { allOrFirstFailure } from '../settle.js';
import { openEncryptedFileVolume } from '../volume/open-volume.js';
import { RemoteSectorCrypto, renewable } from '../volume/remote-sector-crypto.js';
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
  /**
   * Reads a delegation token naming this adapter (identity.label) as its next actor: at start, and
   * again whenever a block session must be renewed (a token is exchanged once, and lives minutes:
   * the cloud-management layer keeps a fresh one where this reads it).
   */
  delegation: () => Promise<string>;
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
  /** Its block session: `crypto.session`, renewed as it runs out. */
  crypto: RemoteSectorCrypto;
  volume: EncryptedFileVolume;
  /** Null while served; why it stopped, once it has. */
  stopped: string | null;
  /** Settles when the stopped volume has closed. */
  closed: Promise<void>;
}

/** The adapter acting for the tenant: the delegation read now, exchanged (once) for the adapter's own token. */
async function delegatedSigner({ identity, delegation }: RemoteVmOptions): Promise<ReturnType<HostIdentity['signer']>> {
  const own = await exchangeToken(identity.dataUrl, identity.signer(), { subjectToken: await delegation() });
  return identity.signer(own.accessToken);
}

export class RemoteVm {
  readonly boot: VmBoot;
  readonly volumes: ServedVolume[] = [];
  readonly #o: RemoteVmOptions;

  private constructor(o: RemoteVmOptions, boot: VmBoot) {
    this.#o = o;
    this.boot = boot;
  }

  get vmId(): string {
    return this.#o.vmId;
  }

  get tenantId(): string {
    return this.#o.tenantId;
  }

  /** Starts the VM at the service, then opens and attaches each of its volumes. */
  static async start(o: RemoteVmOptions): Promise<RemoteVm> {
    const { identity, log } = o;
    const signer = await delegatedSigner(o);
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
    const { identity, log, exports, vmId } = this.#o;
    let served: ServedVolume | undefined;
    const open = async (as: ReturnType<HostIdentity['signer']>): Promise<BlockSession> => {
      const session = await openBlockSession({ dataUrl: identity.dataUrl, signer: as, tenantId: this.#o.tenantId, vmId, volumeId: spec.volumeId, connections: this.#o.connections ?? 8, serviceKey: identity.serviceKey });
      session.onEnded((e) => this.#sessionEnded(served!, session, e));
      return session;
    };
    const reopen = async (): Promise<BlockSession> => {
      try {
        const session = await open(await delegatedSigner(this.#o));
        log.info({ export: spec.name, vmId, volumeId: spec.volumeId, sessionId: session.id }, 'block session renewed');
        return session;
      } catch (error) {
        // The release refused, or not the service: final. Anything else (no fresh delegation yet, the
        // service unreachable) fails only the request; the next one tries again.
        if (error instanceof ReleaseRefusedError) this.#stop(served!, `a new block session was refused (${error.condition})`);
        else if (error instanceof ServiceIdentityError) this.#stop(served!, error.message);
        else log.warn({ export: spec.name, vmId, volumeId: spec.volumeId, err: error }, 'a new block session could not be opened; the request fails, the next one tries again');
        throw error;
      }
    };
    const session = await open(signer);
    let crypto: RemoteSectorCrypto | undefined;
    let volume: EncryptedFileVolume;
    try {
      volume = await openEncryptedFileVolume({
        dir: spec.dir,
        create: { size: Number(session.sectors) * session.sectorSize, sectorSize: session.sectorSize },
        uuid: spec.volumeId,
        crypto: () => (crypto = new RemoteSectorCrypto(session, reopen)),
        readOnly: spec.readOnly ?? false,
        log,
        ...(spec.limits ? { limits: spec.limits } : {}),
      });
    } catch (error) {
      if (!crypto) await session.close().catch(() => {});
      throw error;
    }
    served = { spec, crypto: crypto!, volume, stopped: null, closed: Promise.resolve() };
    volume.onStopped((reason) => this.#stop(served!, reason, 'export stopped: its tags were altered at rest; requests fail with EIO'));
    this.volumes.push(served);
    exports.attach(spec.name, volume);
    log.info({ export: spec.name, vmId, volumeId: spec.volumeId, sessionId: session.id, size: volume.size, sectorSize: volume.sectorSize, integrity: session.integrity }, 'volume attached through the data plane');
  }

  /** A session of a served volume ended: the export stops, unless only the session ran out (the next request renews it). */
  #sessionEnded(served: ServedVolume | undefined, session: BlockSession, e: SessionEndedError): void {
    if (!served) return; // (still opening: the open fails)
    if (!renewable(e)) return this.#stop(served, `block session ended (${e.reason})`);
    const { log, vmId } = this.#o;
    log.info({ export: served.spec.name, vmId, volumeId: served.spec.volumeId, sessionId: session.id, reason: e.reason }, 'block session ended; a new one opens at the next request');
  }

  /** Stops serving a volume: EIO from now on, no new clients, written back and closed. */
  #stop(served: ServedVolume, reason: string, message = 'export stopped: its volume key is no longer released; requests fail with EIO'): void {
    if (served.stopped) return;
    served.stopped = reason;
    const { exports, log, vmId } = this.#o;
    served.volume.stop(reason);
    if (exports.get(served.spec.name) === served.volume) exports.detach(served.spec.name, `stopped: ${reason}`);
    log.error({ export: served.spec.name, vmId, volumeId: served.spec.volumeId, sessionId: served.crypto.session.id, reason }, message);
    served.closed = served.volume.close().catch((err: unknown) => log.error({ export: served.spec.name, err }, 'the stopped volume did not close cleanly'));
  }

  /**
   * Detaches and closes every volume (their sessions end at the service), its export refused
   * ("its VM was stopped") from then on; rejects, once all are closed, if one did not close cleanly.
   */
  async close(): Promise<void> {
    const { exports, log } = this.#o;
    await allOrFirstFailure(
      this.volumes.map(async (served) => {
        const attached = exports.get(served.spec.name);
        if (attached === undefined || attached === served.volume) exports.detach(served.spec.name, 'its VM was stopped');
        if (!served.stopped) {
          served.stopped = 'closed';
          served.closed = served.volume.close();
        }
        try {
          await served.closed;
        } finally {
          const ended = await served.crypto.closed;
          if (ended) log.warn({ export: served.spec.name, err: ended }, 'the block session did not close cleanly');
        }
      }),
    );
  }
}
