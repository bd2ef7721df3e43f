// The VMs scope, across every tenant (a system read, its reason stated): each VM has a release
// policy bound to reference vPCRs and under a usable key; each volume classified confidentiality
// high sits on such a VM; the VM's current boot matched its policy, on a host whose attestation
// holds; a volume without a sealed key is noted, and so is one whose last open was refused as
// rolled back at rest, or could not be checked (volume state records). Walked in pages (tenant,
// VM order), one short transaction each; only ids, classifications, states and results are read
// — no blob.

import type { Knex } from 'knex';
import { asProvider, asSystem } from '@sealkeep/store';
import type { FindingCollector } from './findings.js';
import { fromJson } from './store.js';
import { PAGE_SIZE, type ScopeCheck } from './scope-check.js';

const WHY = 'compliance scan: release policies, boots and volume classifications of every tenant (no key material)';

interface VmFacts {
  vm_id: string;
  tenant_id: string;
  release_key_id: string | null;
  reference_values: { pcrs?: Record<string, Record<string, string>> } | string | null;
  policy_updated_at: Date | null;
  release_key_state: string | null;
  boot_id: string | null;
  policy_result: 'match' | 'mismatch' | 'no-policy' | null;
  booted_at: Date | null;
  boot_host_id: string | null;
}

interface VolumeFacts {
  volume_id: string;
  vm_id: string;
  confidentiality: string;
  sealed: boolean;
  opened_as: string | null;
  refused_at: Date | null;
}

interface HostNow {
  name: string;
  holds: boolean;
}

async function vmPage(db: Knex, after: [string, string] | null): Promise<{ vms: VmFacts[]; volumes: VolumeFacts[] }> {
  return asSystem(db, WHY, async (trx) => {
    const q = trx('vms as v')
      .leftJoin('keys as k', 'k.key_id', 'v.release_key_id')
      .leftJoin('vm_boots as b', 'b.boot_id', 'v.current_boot_id')
      .select('v.vm_id', 'v.tenant_id', 'v.release_key_id', 'v.reference_values', 'v.policy_updated_at', 'k.state as release_key_state', 'b.boot_id', 'b.policy_result', 'b.booted_at', 'b.host_id as boot_host_id')
      .orderBy([{ column: 'v.tenant_id' }, { column: 'v.vm_id' }])
      .limit(PAGE_SIZE);
    if (after) q.whereRaw('(v.tenant_id, v.vm_id) > (?::uuid, ?::uuid)', after);
    const vms = (await q) as VmFacts[];
    if (vms.length === 0) return { vms, volumes: [] };
    const volumes = (await trx('volumes as vol')
      .leftJoin('volume_keys as vk', 'vk.volume_id', 'vol.volume_id')
      .leftJoin('volume_states as vs', 'vs.volume_id', 'vol.volume_id')
      .whereIn('vol.vm_id', vms.map((v) => v.vm_id))
      .select('vol.volume_id', 'vol.vm_id', 'vol.confidentiality', trx.raw('(vk.volume_id is not null) as sealed'), 'vs.opened_as', 'vs.refused_at')
      .orderBy(['vol.created_at', 'vol.volume_id'])) as VolumeFacts[];
    return { vms, volumes };
  });
}

/** Whether a policy's reference values name at least one vPCR. */
function pcrBound(refs: VmFacts['reference_values']): boolean {
  const pcrs = refs ? fromJson(refs).pcrs ?? {} : {};
  return Object.values(pcrs).some((bank) => Object.keys(bank ?? {}).length > 0);
}

function checkVm(vm: VmFacts, volumes: VolumeFacts[], hosts: Map<string, HostNow>, out: FindingCollector): void {
  const subject = `tenant:${vm.tenant_id}/vm:${vm.vm_id}`;
  const hasPolicy = vm.release_key_id !== null && vm.reference_values !== null;
  const bound = hasPolicy && pcrBound(vm.reference_values);
  if (!hasPolicy) out.add('vms.release-policy.missing', subject, 'the VM has no release policy: no volume key is bound to its measured boot');
  else if (!bound) out.add('vms.release-policy.not-pcr-bound', subject, "the VM's release policy names no reference vPCR value", { expected: 'at least one reference vPCR', found: 'none' });
  if (hasPolicy && vm.release_key_state !== 'enabled') {
    out.add('vms.release-key.unusable', subject, `the VM's release key ${vm.release_key_id} is ${vm.release_key_state ?? 'missing'}: its volume keys cannot be released`, { expected: 'enabled', found: vm.release_key_state ?? 'missing' });
  }
  for (const vol of volumes) {
    const at = `${subject}/volume:${vol.volume_id}`;
    if (vol.confidentiality === 'high' && !bound) {
      out.add('vms.volume.high-confidentiality-unbound', at, 'a volume classified confidentiality high is on a VM without a PCR-bound release policy', {
        expected: 'a release policy with reference vPCRs',
        found: hasPolicy ? 'a policy without vPCRs' : 'no release policy',
      });
    }
    if (!vol.sealed) out.add('vms.volume.no-sealed-key', at, 'the volume has no sealed key yet (its VM has not started under a policy)');
    if (vol.refused_at) {
      out.add('vms.volume.state-refused', at, `the volume was refused at ${new Date(vol.refused_at).toISOString()}: its tags (at an open, or a chunk checked after it) were not those of its last clean close, or after an unclean end those its last recorded state leads to (rolled back or altered at rest)`, { expected: 'the state last recorded', found: 'other tags' });
    } else if (vol.opened_as === 'after-unclean-end') {
      out.add('vms.volume.state-unchecked', at, 'the volume was last opened after an unclean end by an earlier version of the adapter, which did not check its state', { expected: 'as-closed or resumed', found: 'after-unclean-end' });
    } else if (vol.opened_as === 'earlier-root') {
      out.add('vms.volume.state-unchecked', at, "the volume was last opened against a root an earlier version recorded (over its tags alone), which could not be compared with the state it showed: taken as its new baseline unchecked", { expected: 'as-closed or resumed', found: 'earlier-root' });
    }
  }
  if (!vm.boot_id) return;
  const bootedAt = new Date(vm.booted_at!).toISOString();
  if (vm.policy_result === 'mismatch') out.add('vms.boot.mismatch', subject, `the VM's current boot (${bootedAt}) did not match its release policy`, { expected: 'match', found: 'mismatch' });
  else if (vm.policy_result === 'no-policy') out.add('vms.boot.no-policy', subject, `the VM's current boot (${bootedAt}) happened without a release policy`, { expected: 'match', found: 'no-policy' });
  if (vm.policy_updated_at && new Date(vm.policy_updated_at) > new Date(vm.booted_at!)) {
    out.add('vms.boot.policy-changed', subject, `the release policy changed (${new Date(vm.policy_updated_at).toISOString()}) after the current boot (${bootedAt}): the boot was judged against an older policy`);
  }
  const host = vm.boot_host_id ? hosts.get(vm.boot_host_id) : undefined;
  if (!host?.holds) {
    out.add('vms.boot.host-unattested', subject, `the VM's current boot ran on host ${host?.name ?? vm.boot_host_id}, whose attestation does not hold now`, { expected: 'an attested host', found: host ? 'attestation failed or lapsed' : 'unknown host' });
  }
}

export const vmsCheck: ScopeCheck = {
  scope: 'vms',

  async count(db) {
    const [row] = await asSystem(db, WHY, (trx) => trx('vms').count<{ n: string | number }[]>({ n: '*' }));
    return Number(row?.n ?? 0);
  },

  async run(db, _ctx, out, progress) {
    const hostRows = await asProvider(db, (trx) => trx('hosts').select('host_id', 'name', trx.raw("(status = 'attested' and attested_until > now()) as holds")));
    const hosts = new Map<string, HostNow>(hostRows.map((h: { host_id: string; name: string; holds: boolean }) => [h.host_id, { name: h.name, holds: h.holds }]));
    const checked = { vms: 0, volumes: 0, boots: 0 };
    let after: [string, string] | null = null;
    for (;;) {
      const { vms, volumes } = await vmPage(db, after);
      if (vms.length === 0) break;
      const volumesOf = new Map<string, VolumeFacts[]>();
      for (const v of volumes) volumesOf.set(v.vm_id, [...(volumesOf.get(v.vm_id) ?? []), v]);
      for (const vm of vms) {
        const own = volumesOf.get(vm.vm_id) ?? [];
        checkVm(vm, own, hosts, out);
        checked.vms++;
        checked.volumes += own.length;
        if (vm.boot_id) checked.boots++;
        await progress.advance();
      }
      const last = vms[vms.length - 1]!;
      after = [last.tenant_id, last.vm_id];
    }
    return checked;
  },
};
