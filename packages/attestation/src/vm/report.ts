// The VM evidence verifier's result for people: one line per finding (the host's prefixed
// "host:"), then a summary line naming the VM, its boot and host, what the reference values
// pinned, the signer and the host's verdict (or, with --json, the result itself).

import { pcrRanges } from '../evidence/report.js';
import { count, findingLines, short } from '../statement/report.js';
import type { VmEvidenceResult } from './verify.js';

export function formatVmEvidenceReport(r: VmEvidenceResult): string {
  const lines = findingLines(r.findings);
  const s = r.summary;
  const who = s.vmId ? `VM ${s.vmId}${s.tenantId ? ` of tenant ${s.tenantId}` : ''}` : 'unnamed VM';
  const boot = s.bootId ? `boot ${s.bootId} on host ${s.hostId ?? '?'} at ${s.bootedAt ?? '?'}` : 'no readable boot';
  const refs =
    s.referenceValues === 'none' ? 'no reference values'
    : `reference values (${s.referenceValues === 'reviewer' ? 'yours' : "the bundle's"}) pin vPCR ${s.pinnedVpcrs.length ? pcrRanges(s.pinnedVpcrs) : 'none'}`;
  const facts = [
    `${s.eventsRead} events read`,
    refs,
    s.signatureValid ? `signed by AK sha256:${short(s.akFingerprint)}` : 'signature not valid',
    s.certificatePath ? `its certificate chains to a trusted root (${s.akIssuer})` : 'no certificate path to a trusted root',
    s.host ? `host evidence ${s.host.ok ? 'OK' : `FAILED (${s.host.errors} error${s.host.errors === 1 ? '' : 's'})`}` : 'no host evidence',
  ].join('; ');
  if (r.ok) {
    const w = r.findings.some((f) => f.severity === 'warning') ? `, ${count(r.findings, 'warning')}` : '';
    lines.push(`VM evidence OK: ${who}, ${boot} (${facts})${w}`);
  } else {
    lines.push(`VM evidence FAILED: ${count(r.findings, 'error')}: ${who}, ${boot} (${facts})`);
  }
  return lines.join('\n');
}
