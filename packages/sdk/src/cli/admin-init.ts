// `sealkeep admin init`: create the first cloud-admin, on the machine that runs the service,
// directly in the service's store (same DATABASE_URL / SEALKEEP_DATA_DIR). A new key pair is
// made here; only its public half reaches the store; the private half goes to the profile.
// Refused once a cloud-admin exists: later operators are added through the API. The key is
// ES256 (P-256): the first operator is also the configuration approver the service root is bound
// to, and the TPM verifies approvals with ECDSA P-256 (TPM2_VerifySignature).

import { randomUUID } from 'node:crypto';
import { jwkThumbprint, publicJwk, newKeyPair } from '@sealkeep/crypto';
import { asProvider, openStore, storeConfigFromEnv } from '@sealkeep/store';
import { saveProfile, type Profile } from '../profile.js';

export async function adminInit(opts: { name: string; profilePath: string; adminUrl: string }): Promise<Profile> {
  const store = await openStore(storeConfigFromEnv());
  try {
    await store.migrateLatest();
    const { privateKey, publicKey } = newKeyPair('ec', { namedCurve: 'P-256' });
    const jwk = publicJwk(publicKey);
    const principalId = randomUUID();
    await asProvider(store.db, async (trx) => {
      // Serialise concurrent inits: both would otherwise see "no cloud-admin yet".
      await trx.raw('lock table principals in share row exclusive mode');
      const existing = await trx('principals').where({ role: 'cloud-admin' }).first();
      if (existing) throw new Error('a cloud-admin already exists; add operators through the admin API');
      await trx('principals').insert({
        principal_id: principalId,
        tenant_id: null,
        name: opts.name,
        role: 'cloud-admin',
        public_jwk: JSON.stringify(jwk),
        jwk_thumbprint: jwkThumbprint(jwk),
      });
    });
    const profile: Profile = {
      principalId,
      name: opts.name,
      role: 'cloud-admin',
      tenantId: null,
      privateJwk: privateKey.export({ format: 'jwk' }),
      endpoints: { admin: opts.adminUrl, compliance: opts.adminUrl },
    };
    saveProfile(opts.profilePath, profile);
    return profile;
  } finally {
    await store.close();
  }
}
