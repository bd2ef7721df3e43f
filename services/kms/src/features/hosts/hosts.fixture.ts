// Test support: a hypervisor principal acts only while its host's attestation holds, so tests
// that need a hypervisor give it an attested host directly in the store (the attestation flow
// itself is tested in hosts.test.ts).

import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { ManufacturerCa } from '@sealkeep/tpm';

let certificate: Promise<Buffer> | undefined;

/** A host attested for the next hour, whose adapter is `principalId`. */
export async function attestedHostFor(db: Knex, principalId: string, name = `host-${principalId.slice(0, 8)}`): Promise<string> {
  certificate ??= ManufacturerCa.create().then((ca) => ca.certificate);
  const hostId = randomUUID();
  await db('hosts').insert({ host_id: hostId, name, ek_certificate: await certificate, principal_id: principalId, status: 'attested', attested_until: new Date(Date.now() + 3600_000) });
  return hostId;
}
