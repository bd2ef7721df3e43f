// Each VM's vTPM, kept by the service in a TpmManager beside its data: created at the VM's first
// start, power-cycled (seeds kept, PCRs reset) at every later start, destroyed with the VM, and
// suspended between operations (withVmTpm), so that the service's crash is not the VM's reboot.
// The vTPM state files are encrypted with a platform key derived from the unsealed service root,
// so a copy of the data directory holds nothing usable.

import { hkdfSync } from 'node:crypto';
import path from 'node:path';
import { TpmManager, type ManagedTpm } from '@sealkeep/tpm';

export const vtpmIdOf = (vmId: string) => `vm-${vmId}`;

/** The vTPM platform key: HKDF-SHA-256 of the service root. */
export function vtpmPlatformKey(root: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', root, Buffer.alloc(0), 'sealkeep/v1/vtpm-platform-key', 32));
}

export function openVmTpms(dataDir: string, root: Buffer): Promise<TpmManager> {
  return TpmManager.open({ dir: path.join(dataDir, 'vtpms'), platformKey: vtpmPlatformKey(root) });
}

/** The VM's vTPM, power-cycled for a new boot (created the first time). */
export async function freshBootTpm(vtpms: TpmManager, vmId: string): Promise<ManagedTpm> {
  const id = vtpmIdOf(vmId);
  if (!vtpms.has(id)) return vtpms.create(id);
  return vtpms.restart(id);
}

/** The VM's vTPM as it is (its PCRs hold the current boot's measurements). */
export function currentTpm(vtpms: TpmManager, vmId: string): Promise<ManagedTpm> {
  return vtpms.get(vtpmIdOf(vmId));
}

const vmLocks = new Map<string, Promise<unknown>>();

/**
 * Runs fn after every earlier operation on this VM's vTPM in this process (a start, a release),
 * then suspends the vTPM (Shutdown(STATE), saved, dropped from memory). Between operations a
 * vTPM is on disk as its last operation left it, PCRs included: after a crash of the service the
 * next load resumes it (Startup(STATE)), as the VM — which kept running — expects. Only a start
 * of the VM resets its PCRs. A suspension that fails fails the operation.
 */
export function withVmTpm<T>(vtpms: TpmManager | undefined, vmId: string, fn: () => Promise<T>): Promise<T> {
  const prior = vmLocks.get(vmId) ?? Promise.resolve();
  const suspend = () => (vtpms?.has(vtpmIdOf(vmId)) ? vtpms.suspend(vtpmIdOf(vmId)) : Promise.resolve());
  const operate = async () => {
    try {
      return await fn();
    } catch (error) {
      await suspend().catch(() => {});
      throw error;
    }
  };
  const run = prior.then(operate, operate).then(async (result) => {
    await suspend();
    return result;
  });
  const settled = run.catch(() => {});
  vmLocks.set(vmId, settled);
  void settled.then(() => {
    if (vmLocks.get(vmId) === settled) vmLocks.delete(vmId);
  });
  return run;
}
