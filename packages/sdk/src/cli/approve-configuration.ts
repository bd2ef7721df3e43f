// `sealkeep admin approve-configuration`: the operator's explicit step when the service's code
// or configuration changed. Run on the service's machine against its store (as `admin init`
// is). It shows the configuration waiting for approval — what changed in the configuration
// document and which code files differ from the last approved one — and, with --yes, signs it
// with the operator's key (the approver the service root is bound to). The TPM checks that
// signature at the next start (PolicyAuthorize); the service writes the approval into the
// provider's audit chain the first time it starts under it.

import type { JsonWebKey } from 'node:crypto';
import { createPublicKey } from 'node:crypto';
import { asProvider, openStore, storeConfigFromEnv } from '@sealkeep/store';
import { signConfigurationApproval, verifyConfigurationApproval, type ServiceDigests } from '@sealkeep/attestation';
import { loadProfile, profileKey } from '../profile.js';

export interface ApprovalResult {
  codeDigest: string;
  configurationDigest: string;
  approved: boolean;
  changes: string[];
}

interface Row {
  code_digest: string;
  configuration_digest: string;
  code_manifest: string;
  configuration: string;
}

/** Lines `path: a → b` for every setting whose value differs (JSON paths, depth first). */
function configurationChanges(before: unknown, after: unknown, at = ''): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
  if (isObj(before) && isObj(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => configurationChanges(before[k], after[k], at ? `${at}.${k}` : k));
  }
  const a = JSON.stringify(before);
  const b = JSON.stringify(after);
  return a === b ? [] : [`configuration ${at}: ${a ?? '(absent)'} → ${b ?? '(absent)'}`];
}

/** Files added, removed or changed between two code manifests. */
function codeChanges(before: string, after: string): string[] {
  const parse = (m: string) => new Map(m.split('\n').filter(Boolean).map((l) => [l.slice(66), l.slice(0, 64)] as const));
  const a = parse(before);
  const b = parse(after);
  const out: string[] = [];
  for (const [file, digest] of b) if (!a.has(file)) out.push(`code added   ${file}`);
  else if (a.get(file) !== digest) out.push(`code changed ${file}`);
  for (const file of a.keys()) if (!b.has(file)) out.push(`code removed ${file}`);
  return out.sort();
}

export async function approveConfiguration(opts: { profilePath: string; yes: boolean; codeDigest?: string }): Promise<ApprovalResult> {
  const profile = loadProfile(opts.profilePath);
  const store = await openStore(storeConfigFromEnv());
  try {
    return await asProvider(store.db, async (trx) => {
      const root = await trx('service_root').where({ id: 1 }).first();
      if (!root) throw new Error('the service has no root yet: start it once after `sealkeep admin init`; its first configuration needs no approval');
      if (root.approver_principal_id !== profile.principalId) {
        const approver = await trx('principals').where({ principal_id: root.approver_principal_id }).first();
        throw new Error(`only the configuration approver (${approver?.name ?? root.approver_principal_id}) can approve; this profile is ${profile.name}`);
      }
      const pending: Row[] = await trx('service_configurations').whereNull('approval').orderBy('first_seen_at', 'desc');
      const row = opts.codeDigest ? pending.find((r) => r.code_digest.startsWith(opts.codeDigest!)) : pending[0];
      if (!row) throw new Error('no configuration is waiting for approval (the service records one when it refuses to start)');
      const last: Row | undefined = await trx('service_configurations').whereNotNull('approval').orderBy('approved_at', 'desc').first();
      const changes = last ? [...configurationChanges(JSON.parse(last.configuration), JSON.parse(row.configuration)), ...codeChanges(last.code_manifest, row.code_manifest)] : [];
      const digests: ServiceDigests = { codeDigest: row.code_digest, configurationDigest: row.configuration_digest };
      if (!opts.yes) return { ...digests, approved: false, changes };

      const key = profileKey(profile);
      const signature = signConfigurationApproval(key, digests);
      // The approver's key as the root was bound to it: a profile with another key would sign in vain.
      if (!verifyConfigurationApproval(createPublicKey({ key: root.approver_jwk as JsonWebKey, format: 'jwk' }), digests, signature)) {
        throw new Error("this profile's key is not the key the service root is bound to");
      }
      await trx('service_configurations')
        .where({ code_digest: row.code_digest, configuration_digest: row.configuration_digest })
        .update({ approval: 'signed', approval_signature: signature, approved_by: profile.principalId, approved_at: trx.fn.now() });
      return { ...digests, approved: true, changes };
    });
  } finally {
    await store.close();
  }
}

export function describeApproval(r: ApprovalResult): string {
  const head = `configuration: code sha256:${r.codeDigest}\n               config sha256:${r.configurationDigest}`;
  const changes = r.changes.length ? r.changes.map((c) => `  ${c}`).join('\n') : '  (no earlier approved configuration to compare with)';
  const verdict = r.approved ? 'approved: the service will start under it; the approval is audited at that start' : 'not approved yet: review the changes above, then run again with --yes';
  return `${head}\nchanges since the last approved configuration:\n${changes}\n${verdict}`;
}
