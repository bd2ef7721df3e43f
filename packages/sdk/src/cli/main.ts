// sealkeep — the command-line client. Credentials live in a profile file (mode 0600).
//   sealkeep admin init --name ops                 first cloud-admin, on the service's machine
//   sealkeep tenant create acme [--officer-key-thumbprint T]
//   sealkeep tenant list
//   sealkeep enroll --code C --name alice --url http://127.0.0.1:7410
//   sealkeep whoami [--plane admin|tenant]
//   sealkeep audit export [--chain ID] --out FILE    the tenant's chain (officer) or any (reviewer)
//   sealkeep audit verify FILE [--trusted-ak AK.pem] offline: no service, no network
//   sealkeep admin approve-configuration [--yes]     on the service's machine, after a refused start
//   sealkeep service measurements [--ak-out FILE]    the service's measured launch (and its AK)
//   sealkeep service key [--out FILE]                its signing key and the key's TPM evidence
//   sealkeep token grant|exchange …                  delegation by token exchange (token.ts)
//   sealkeep quota …, sealkeep principal …          limits and principals (tenancy.ts)
//   sealkeep keys import …                           bring your own key (keys.ts)
//   sealkeep scan start|status|report|list …         compliance scans, for reviewers (scan.ts)
// Global: --profile FILE (default $SEALKEEP_PROFILE or ~/.config/sealkeep/profile.json), --json.

import { parseArgs } from 'node:util';
import { jwkThumbprint, publicJwk, newKeyPair } from '@sealkeep/crypto';
import { selfSignedRequest, signedRequest, SealkeepError } from '../client.js';
import { defaultProfilePath, loadProfile, profileKey, saveProfile, type Profile } from '../profile.js';
import { adminInit } from './admin-init.js';
import { approveConfiguration, describeApproval } from './approve-configuration.js';
import { tokenCommand, TOKEN_OPTIONS, TOKEN_USAGE } from './token.js';
import { tenancyCommand, TENANCY_OPTIONS, TENANCY_USAGE } from './tenancy.js';
import { keysCommand, KEYS_OPTIONS, KEYS_USAGE } from './keys.js';
import { scanCommand, ScanFailed, ScanNotPassed, SCAN_OPTIONS, SCAN_USAGE } from './scan.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { evidenceVerifyMain, formatReport, verifyAuditLog } from '@sealkeep/attestation';
import { volumeVerifyMain, VOLUME_VERIFY_USAGE } from './verify-volume.js';
import { vmEvidenceVerifyMain, VM_EVIDENCE_VERIFY_USAGE } from './verify-vm-evidence.js';
import { serviceKeyVerifyMain, SERVICE_KEY_VERIFY_USAGE } from './verify-service-key.js';

/** The verifier found faults; the report is already printed. */
class AuditFailed extends Error {}

const USAGE = `usage:
  sealkeep admin init --name NAME [--admin-url URL]
  sealkeep tenant create NAME [--officer-key-thumbprint T]
  sealkeep tenant list
  sealkeep enroll --code CODE --name NAME --url TENANT_URL
  sealkeep whoami [--plane admin|tenant|data|compliance]
  sealkeep audit export [--chain ID] --out FILE
  sealkeep audit verify FILE [--trusted-ak AK.pem]...
  sealkeep evidence get HOST_ID --out FILE           (reviewer: a host's last accepted attestation)
  sealkeep verify evidence BUNDLE.json --root MANUFACTURER.pem... [--nonce HEX] [--policy FILE] [--previous-quote FILE] [--json]
  ${VOLUME_VERIFY_USAGE}
  ${VM_EVIDENCE_VERIFY_USAGE}
  ${SERVICE_KEY_VERIFY_USAGE}
  sealkeep admin approve-configuration [--yes] [--code-digest PREFIX]
  sealkeep service measurements [--ak-out FILE]
  sealkeep service key [--out FILE]
${TOKEN_USAGE}
${TENANCY_USAGE}
${KEYS_USAGE}
${SCAN_USAGE}
options: --profile FILE, --json`;

type Out = (value: unknown, text: string) => void;

async function run(argv: string[], out: Out): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      profile: { type: 'string' },
      json: { type: 'boolean' },
      name: { type: 'string' },
      code: { type: 'string' },
      url: { type: 'string' },
      plane: { type: 'string' },
      'admin-url': { type: 'string' },
      'officer-key-thumbprint': { type: 'string' },
      chain: { type: 'string' },
      out: { type: 'string' },
      yes: { type: 'boolean' },
      'code-digest': { type: 'string' },
      'trusted-ak': { type: 'string', multiple: true },
      'ak-out': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      ...TOKEN_OPTIONS,
      ...TENANCY_OPTIONS,
      ...KEYS_OPTIONS,
      ...SCAN_OPTIONS,
    },
  });
  const profilePath = values.profile ?? defaultProfilePath();
  const [group, verb, arg] = positionals;
  const signer = (p: Profile) => ({ principalId: p.principalId, key: profileKey(p) });
  const endpoint = (p: Profile, plane: keyof Profile['endpoints']) => {
    const url = p.endpoints[plane];
    if (!url) throw new Error(`the profile has no ${plane}-plane endpoint`);
    return url;
  };

  if (values.help || !group) return out(null, USAGE);
  if (group === 'token') return tokenCommand(verb, loadProfile(profilePath), values, out);
  if (group === 'quota' || group === 'principal') return tenancyCommand(group, verb, arg, profilePath, values, out);
  if (group === 'keys') return keysCommand(verb, arg, profilePath, values, out);
  if (group === 'scan') {
    const p = loadProfile(profilePath);
    return scanCommand(verb, arg, p, signer(p), values, out, { progress: process.stderr, pollMs: 250 });
  }
  if (group === 'admin' && verb === 'init') {
    if (!values.name) throw new Error('--name is required');
    const p = await adminInit({ name: values.name, profilePath, adminUrl: values['admin-url'] ?? 'http://127.0.0.1:7412' });
    return out({ principalId: p.principalId, profile: profilePath }, `cloud-admin ${p.name} (${p.principalId}); credentials in ${profilePath}`);
  }
  if (group === 'admin' && verb === 'approve-configuration') {
    const r = await approveConfiguration({ profilePath, yes: !!values.yes, ...(values['code-digest'] ? { codeDigest: values['code-digest'] } : {}) });
    return out(r, describeApproval(r));
  }
  if (group === 'service' && verb === 'measurements') {
    const p = loadProfile(profilePath);
    const plane = p.role === 'reviewer' ? 'compliance' : p.tenantId ? 'tenant' : 'admin';
    const r = (await signedRequest(endpoint(p, plane), signer(p), 'GET', '/v1/service/measurements')) as {
      codeDigest: string;
      configurationDigest: string;
      pcrs: Record<string, string>;
      approval: { kind: string; approvedBy: string | null; approvedAt: string | null } | null;
      attestationKey: { publicKeyPem: string };
      tpm: string;
    };
    if (values['ak-out']) writeFileSync(values['ak-out'], r.attestationKey.publicKeyPem);
    const approval = r.approval ? `${r.approval.kind}${r.approval.approvedBy ? ` by ${r.approval.approvedBy}` : ''}${r.approval.approvedAt ? ` at ${r.approval.approvedAt}` : ''}` : 'none (no service root yet)';
    return out(
      r,
      [`code          sha256:${r.codeDigest}`, `configuration sha256:${r.configurationDigest}`, ...Object.entries(r.pcrs).map(([i, v]) => `PCR ${i}        ${v}`), `approval      ${approval}`, `host TPM      ${r.tpm}`]
        .concat(values['ak-out'] ? [`AK public key written to ${values['ak-out']}`] : [])
        .join('\n'),
    );
  }
  if (group === 'service' && verb === 'key') {
    // Public: on the tenant plane, or the data plane, whichever the profile names.
    const p = loadProfile(profilePath);
    const url = p.endpoints.tenant ?? p.endpoints.data;
    if (!url) throw new Error('the profile has no tenant- or data-plane endpoint');
    const r = (await signedRequest(url, null, 'GET', '/v1/service-key')) as { kid: string; evidence: unknown };
    if (values.out) writeFileSync(values.out, JSON.stringify(r, null, 2) + '\n');
    const evidence = r.evidence ? 'with its evidence (a TPM quote of the service launch naming it)' : 'without evidence (the service root is not unsealed)';
    const check = values.out ? `\nverify it offline: sealkeep verify service-key ${values.out} --root MANUFACTURER.pem --measurements LAUNCH.json` : '';
    return out(r, `service key ${r.kid}, ${evidence}${values.out ? `, written to ${values.out}` : ''}${check}`);
  }
  if (group === 'tenant' && verb === 'create') {
    if (!arg) throw new Error('tenant name required');
    const p = loadProfile(profilePath);
    const thumbprint = values['officer-key-thumbprint'];
    const r = (await signedRequest(endpoint(p, 'admin'), signer(p), 'POST', '/v1/tenants', { name: arg, ...(thumbprint ? { officerKeyThumbprint: thumbprint } : {}) })) as {
      tenantId: string;
      enrollment: { code: string; expiresAt: string };
    };
    return out(r, `tenant ${arg} (${r.tenantId})\nenrollment code (give it to the tenant's security officer; shown once, expires ${r.enrollment.expiresAt}):\n${r.enrollment.code}`);
  }
  if (group === 'tenant' && verb === 'list') {
    const p = loadProfile(profilePath);
    const r = (await signedRequest(endpoint(p, 'admin'), signer(p), 'GET', '/v1/tenants')) as Array<{ tenantId: string; name: string; status: string }>;
    return out(r, r.map((t) => `${t.name}\t${t.tenantId}\t${t.status}`).join('\n') || '(no tenants)');
  }
  if (group === 'enroll') {
    if (!values.code || !values.name || !values.url) throw new Error('--code, --name and --url are required');
    const { privateKey, publicKey } = newKeyPair('ed25519');
    const r = (await selfSignedRequest(values.url, privateKey, 'POST', '/v1/enroll', { code: values.code, name: values.name })) as {
      principalId: string;
      tenantId: string;
      role: string;
    };
    saveProfile(profilePath, { principalId: r.principalId, name: values.name, role: r.role, tenantId: r.tenantId, privateJwk: privateKey.export({ format: 'jwk' }), endpoints: { tenant: values.url } });
    return out(r, `enrolled ${values.name} as ${r.role} of tenant ${r.tenantId}; key ${jwkThumbprint(publicJwk(publicKey))}; credentials in ${profilePath}`);
  }
  if (group === 'whoami') {
    const p = loadProfile(profilePath);
    const plane = (values.plane ?? (p.role === 'cloud-admin' ? 'admin' : 'tenant')) as keyof Profile['endpoints'];
    const r = (await signedRequest(endpoint(p, plane), signer(p), 'GET', '/v1/self')) as { name: string; role: string; tenantId: string | null };
    return out(r, `${r.name} (${r.role}${r.tenantId ? ` of tenant ${r.tenantId}` : ''})`);
  }
  if (group === 'audit' && verb === 'verify') {
    if (!arg) throw new Error('the export file to verify is required');
    const trusted = (values['trusted-ak'] ?? []).map((f) => readFileSync(f, 'utf8'));
    const report = verifyAuditLog(readFileSync(arg, 'utf8'), trusted.length ? { trustedAkPublicKeysPem: trusted } : {});
    out(report, formatReport(report));
    if (report.findings.some((f) => f.severity !== 'warning')) throw new AuditFailed();
    return;
  }
  if (group === 'audit' && verb === 'export') {
    if (!values.out) throw new Error('--out FILE is required');
    const p = loadProfile(profilePath);
    const url = p.tenantId ? `/v1/tenants/${p.tenantId}/audit` : `/v1/audit/chains/${values.chain ?? 'provider'}`;
    const plane = p.tenantId ? 'tenant' : 'compliance';
    const r = (await signedRequest(endpoint(p, plane), signer(p), 'GET', url)) as { chainId: string; lines: string[] };
    writeFileSync(values.out, r.lines.map((l) => l + '\n').join(''), { mode: 0o600 });
    return out({ chainId: r.chainId, entries: r.lines.length, file: values.out }, `${r.lines.length} entries of chain ${r.chainId} written to ${values.out}`);
  }
  if (group === 'evidence' && verb === 'get') {
    if (!arg || !values.out) throw new Error('usage: sealkeep evidence get HOST_ID --out FILE');
    const p = loadProfile(profilePath);
    const r = (await signedRequest(endpoint(p, 'compliance'), signer(p), 'GET', `/v1/hosts/${arg}/evidence`)) as { hostId: string; nonce: string; attestedAt: string; bundle: unknown };
    writeFileSync(values.out, JSON.stringify(r.bundle, null, 2) + '\n');
    return out(
      { hostId: r.hostId, nonce: r.nonce, attestedAt: r.attestedAt, file: values.out },
      `evidence of host ${r.hostId} (attested ${r.attestedAt}) written to ${values.out}\nverify it offline: sealkeep verify evidence ${values.out} --root MANUFACTURER.pem --nonce ${r.nonce}`,
    );
  }
  throw new Error(`unknown command "${positionals.join(' ')}"\n${USAGE}`);
}

export async function main(argv = process.argv.slice(2)): Promise<number> {
  // Offline, its own options and exit codes (0 good, 1 findings, 2 usage): @sealkeep/attestation's
  // evidence CLI and the other verifiers. They need no profile: one given first is passed over.
  const offline = argv[0] === '--profile' ? argv.slice(2) : argv;
  if (offline[0] === 'verify' && offline[1] === 'evidence') return evidenceVerifyMain(offline.slice(2));
  if (offline[0] === 'verify' && offline[1] === 'volume-attestation') return volumeVerifyMain(offline.slice(2));
  if (offline[0] === 'verify' && offline[1] === 'vm-evidence') return vmEvidenceVerifyMain(offline.slice(2));
  if (offline[0] === 'verify' && offline[1] === 'service-key') return serviceKeyVerifyMain(offline.slice(2));
  const json = argv.includes('--json');
  try {
    await run(argv, (value, text) => console.log(json && value !== null ? JSON.stringify(value, null, 2) : text));
    return 0;
  } catch (e) {
    if (e instanceof AuditFailed || e instanceof ScanNotPassed) return 1;
    const msg = e instanceof SealkeepError || e instanceof Error ? e.message : String(e);
    console.error(`sealkeep: ${msg}`);
    return e instanceof SealkeepError || e instanceof ScanFailed ? 3 : 2;
  }
}
