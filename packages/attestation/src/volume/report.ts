// The volume attestation verifier's result for people: one line per finding, then a summary line
// naming the signed volume, VM, boot, size, root and time (or, with --json, the result itself).

import { count, findingLines, short } from '../statement/report.js';
import type { VolumeResult } from './verify.js';

export function formatVolumeReport(r: VolumeResult): string {
  const lines = findingLines(r.findings);
  const s = r.summary;
  const what =
    s.volumeId !== undefined
      ? `volume ${s.volumeId} of VM ${s.vmId}, boot ${s.bootId}: ${s.sectors} sectors of ${s.sectorSize} bytes, Merkle root ${short(s.merkleRoot)}, issued ${s.issuedAt}`
      : 'no readable statement';
  const facts = [
    s.signatureValid ? `signed by AK sha256:${short(s.akFingerprint)}` : 'signature not valid',
    s.certificatePath ? `its certificate chains to a trusted root (${s.akIssuer})` : 'no certificate path to a trusted root',
    s.tagsChecked ? 'tags checked' : 'tags not checked',
  ].join('; ');
  if (r.ok) {
    const w = r.findings.some((f) => f.severity === 'warning') ? `, ${count(r.findings, 'warning')}` : '';
    lines.push(`volume attestation OK: ${what} (${facts})${w}`);
  } else {
    lines.push(`volume attestation FAILED: ${count(r.findings, 'error')}: ${what} (${facts})`);
  }
  return lines.join('\n');
}
