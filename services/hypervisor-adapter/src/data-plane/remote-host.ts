// The VMs one attested host serves through the data plane, as they come and go: each started on
// its own (the tenant's delegation exchanged, its measured boot submitted, its volumes opened over
// block sessions and attached as exports — RemoteVm), and stopped on its own (its volumes written
// back and closed cleanly, their state recorded, their sessions ended). A VM that does not start
// is remembered with its error and its exports refused with the reason (NBD_REP_ERR_POLICY), so
// one tenant's refusal takes nothing from the host's other VMs; starting it again replaces that.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { digestFile, vmBootLog, type StartVmOptions } from '@sealkeep/sdk';
import type { VmOption, VolumeOption } from '../cli-options.js';
import type { Logger } from '../logger.js';
import type { ExportRegistry } from '../nbd/export-registry.js';
import type { HostIdentity } from './host-identity.js';
import { allOrFirstFailure } from '../settle.js';
import { RemoteVm, type RemoteVolumeSpec } from './remote-vm.js';

/** The VM's measured boot: a CEL JSON file, or built from its boot image and configuration as they are here. */
async function bootEventsOf(vm: VmOption): Promise<StartVmOptions['events']> {
  if (vm.bootLogFile) return JSON.parse(await readFile(vm.bootLogFile, 'utf8')) as unknown[];
  return vmBootLog({
    configuration: await readFile(vm.configFile!),
    bootVolumeDigest: await digestFile(vm.bootImage!),
    bootVolumeName: path.basename(vm.bootImage!),
    ...(vm.kernelFile ? { kernelDigest: await digestFile(vm.kernelFile), kernelName: path.basename(vm.kernelFile) } : {}),
  });
}

/** Why a VM cannot start here before anything is asked of the service (it is served already, a name or directory is taken). */
export class VmConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VmConflictError';
  }
}

/** A VM that does not run here: the error its start ended with, and when. */
export interface RefusedVm {
  vmId: string;
  tenantId: string;
  exports: string[];
  error: unknown;
  at: Date;
}

export interface RemoteHostOptions {
  identity: HostIdentity;
  exports: ExportRegistry;
  log: Logger;
  /** Data-plane connections per volume. */
  connections: number;
}

export class RemoteHost {
  readonly #o: RemoteHostOptions;
  readonly #vms = new Map<string, RemoteVm>();
  readonly #refused = new Map<string, RefusedVm>();
  /** VMs starting now: their ids, export names and directories are taken; close() waits for them. */
  readonly #starting = new Map<string, { volumes: VolumeOption[]; done: Promise<void> }>();
  #closing = false;

  constructor(o: RemoteHostOptions) {
    this.#o = o;
  }

  /** The host as it attested: its id, the adapter's principal label, and until when the attestation holds. */
  get attestation(): { hostId: string; label: string; attestedUntil: string } {
    const { hostId, label, attestedUntil } = this.#o.identity;
    return { hostId, label, attestedUntil: attestedUntil.toISOString() };
  }

  /** The VMs served now, in the order they started. */
  get vms(): RemoteVm[] {
    return [...this.#vms.values()];
  }

  /** The VMs whose last start failed, and why. */
  get refused(): RefusedVm[] {
    return [...this.#refused.values()];
  }

  /**
   * Starts a VM and attaches its volumes (all or none). Refused before anything reaches the
   * service when the VM is served or starting already, or an export name or directory is taken;
   * a failure after that is remembered (refused) and its exports refused with the reason. A VM
   * whose every export stopped while it ran (its key disabled, its host lapsed) is not served any
   * more: it may be started again at once, its old volumes closed first.
   */
  startVm(vm: VmOption, volumes: VolumeOption[]): Promise<RemoteVm> {
    if (this.#closing) return Promise.reject(new VmConflictError('the adapter is stopping'));
    const ended = this.#vms.get(vm.vmId);
    const wasStopped = ended !== undefined && ended.volumes.every((v) => v.stopped !== null);
    if (wasStopped) this.#vms.delete(vm.vmId);
    try {
      this.#checkFree(vm, volumes);
    } catch (error) {
      if (wasStopped) this.#vms.set(vm.vmId, ended);
      return Promise.reject(error);
    }
    let settled!: () => void;
    this.#starting.set(vm.vmId, { volumes, done: new Promise<void>((resolve) => (settled = resolve)) });
    return this.#start(vm, volumes, wasStopped ? ended : undefined).finally(() => {
      this.#starting.delete(vm.vmId);
      settled();
    });
  }

  async #start(vm: VmOption, volumes: VolumeOption[], ended?: RemoteVm): Promise<RemoteVm> {
    const { identity, exports, log, connections } = this.#o;
    try {
      await ended?.close().catch((err: unknown) => log.warn({ vmId: vm.vmId, err }, 'the stopped VM\'s volumes did not close cleanly; starting it again'));
      const specs: RemoteVolumeSpec[] = volumes.map((v) => ({
        name: v.name,
        dir: v.dir,
        volumeId: v.volumeId!,
        readOnly: v.readOnly,
        limits: { ...(v.pendingLimit === undefined ? {} : { pendingBytes: v.pendingLimit }), ...(v.journalLimit === undefined ? {} : { journalBytes: v.journalLimit }) },
      }));
      const delegation = async () => (await readFile(vm.delegationFile, 'utf8')).trim();
      const started = await RemoteVm.start({ identity, tenantId: vm.tenantId, vmId: vm.vmId, delegation, boot: await bootEventsOf(vm), volumes: specs, exports, log, connections });
      this.#vms.set(vm.vmId, started);
      this.#refused.delete(vm.vmId);
      return started;
    } catch (error) {
      const names = volumes.map((v) => v.name);
      this.#refused.set(vm.vmId, { vmId: vm.vmId, tenantId: vm.tenantId, exports: names, error, at: new Date() });
      const reason = `its VM did not start: ${error instanceof Error ? error.message : String(error)}`;
      for (const name of names) if (!exports.get(name)) exports.refuse(name, reason);
      log.error({ vmId: vm.vmId, tenantId: vm.tenantId, exports: names, err: error }, "VM not served: its exports are refused; the host's other VMs are served");
      throw error;
    }
  }

  /** Stops a served VM: its exports detached (and refused: the VM was stopped), its volumes closed cleanly; false if it is not served here. */
  async stopVm(vmId: string): Promise<boolean> {
    const vm = this.#vms.get(vmId);
    if (!vm) return false;
    this.#vms.delete(vmId);
    try {
      await vm.close();
    } finally {
      this.#o.log.info({ vmId, exports: vm.volumes.map((v) => v.spec.name) }, 'VM stopped: its volumes are closed and their state recorded');
    }
    return true;
  }

  /** Stops every VM (once those starting have started or failed) and starts no more; rejects, once all are closed, if one did not close cleanly. */
  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all([...this.#starting.values()].map((s) => s.done));
    await allOrFirstFailure(this.vms.map((vm) => this.stopVm(vm.vmId)));
  }

  #checkFree(vm: VmOption, volumes: VolumeOption[]): void {
    if (this.#vms.has(vm.vmId) || this.#starting.has(vm.vmId)) throw new VmConflictError(`VM ${vm.vmId} is served here already: stop it first`);
    if (volumes.length === 0) throw new VmConflictError(`VM ${vm.vmId}: at least one volume is needed`);
    const taken = new Map<string, string>();
    for (const served of this.vms.flatMap((v) => v.volumes.map((s) => s.spec))) taken.set(served.name, path.resolve(served.dir));
    for (const starting of this.#starting.values()) for (const v of starting.volumes) taken.set(v.name, path.resolve(v.dir));
    const dirs = new Set(taken.values());
    for (const v of volumes) {
      if (taken.has(v.name) || this.#o.exports.get(v.name)) throw new VmConflictError(`export ${v.name} is served here already`);
      if (dirs.has(path.resolve(v.dir))) throw new VmConflictError(`volume ${v.name}: ${v.dir} holds a volume served here already`);
      taken.set(v.name, path.resolve(v.dir));
      dirs.add(path.resolve(v.dir));
    }
  }
}
