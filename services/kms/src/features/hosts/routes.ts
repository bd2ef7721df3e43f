// Host routes. Admin plane: the cloud-admin registers hosts by EK certificate and approves their
// launch measurements; cloud-admins and reviewers read them. Data plane: a host's adapter asks
// for a credential-activation challenge and attests (both public: what proves the caller is the
// TPM's possession of the EK and AK, and the adapter key signing the request).

import { z } from 'zod';
import type { Knex } from 'knex';
import type { Store } from '@sealkeep/store';
import { asProvider } from '@sealkeep/store';
import { jwkThumbprint } from '@sealkeep/crypto';
import type { TpmClient } from '@sealkeep/tpm';
import { route } from '../../http/route.js';
import { Problem } from '../../http/problems.js';
import type { Authenticator } from '../../http/mount.js';
import { verifySelfSignedProof } from '../../auth/request-proof.js';
import { approveLaunch, getHost, listHosts, registerHost } from './registry.js';
import { attestHost, challengeHost, hostAttestationHolds, type AttestationSettings } from './attestation.js';
import { hostEvidence } from './evidence.js';
import type { ServiceState } from '../../platform/measured-start.js';

export interface HostDeps {
  /** The service's own TPM (TPM2_MakeCredential); without it challenges answer 503. */
  tpm?: TpmClient | undefined;
  settings: AttestationSettings;
}

const HostParams = z.object({ hostId: z.uuid() });
const Digest = z.string().regex(/^[0-9a-fA-F]{64}$/, 'a SHA-256 digest, hex');

/** Hypervisor principals authenticate only while their host's attestation holds. */
export function withHostAttestation(authenticate: Authenticator, db: Knex): Authenticator {
  return async (req) => {
    const p = await authenticate(req);
    if (p?.role === 'hypervisor' && !(await asProvider(db, (trx) => hostAttestationHolds(trx, p.id)))) throw new Problem('attestation-stale');
    return p;
  };
}

export function hostRoutes(store: Store, deps: HostDeps, service: ServiceState | undefined) {
  return [
    route({
      method: 'get',
      path: '/v1/hosts/:hostId/evidence',
      plane: 'compliance',
      permission: 'evidence.read',
      summary: "The host's last accepted attestation as an evidence bundle (packages/attestation/src/evidence/README.md), with its nonce and the approved reference values, to verify offline",
      params: HostParams,
      handler: ({ params, actor }) => hostEvidence(store.db, actor!, service, params.hostId),
    }),
    route({
      method: 'post',
      path: '/v1/hosts',
      plane: 'admin',
      permission: 'host.register',
      summary: 'Register a host by its EK certificate (it must chain to a trusted TPM manufacturer root)',
      body: z.strictObject({ name: z.string().regex(/^[a-z0-9][a-z0-9.-]{0,62}$/), ekCertificatePem: z.string().max(16384) }),
      status: 201,
      handler: ({ body, actor }) => registerHost(store.db, actor!, deps.settings.trustedRoots, body),
    }),
    route({
      method: 'get',
      path: '/v1/hosts',
      plane: 'admin',
      permission: 'host.read',
      summary: 'The hosts, their approved launch and attestation state',
      handler: () => listHosts(store.db),
    }),
    route({
      method: 'get',
      path: '/v1/hosts/:hostId',
      plane: 'admin',
      permission: 'host.read',
      summary: 'One host',
      params: HostParams,
      handler: ({ params }) => getHost(store.db, params.hostId),
    }),
    route({
      method: 'put',
      path: '/v1/hosts/:hostId/launch-policy',
      plane: 'admin',
      permission: 'host.approve-launch',
      summary: 'Approve the launch measurements a host may attest: SINIT (PCR 17) and MLE (PCR 18) SHA-256 digests',
      params: HostParams,
      body: z.strictObject({ sinitDigests: z.array(Digest).max(64), mleDigests: z.array(Digest).min(1).max(64) }),
      handler: ({ params, body, actor }) => approveLaunch(store.db, actor!, params.hostId, body),
    }),
    route({
      method: 'post',
      path: '/v1/hosts/:hostId/attestation/challenge',
      plane: 'data',
      permission: 'public',
      summary: "A credential-activation challenge for the host's AK against its EK, and a quote nonce (one use, 120 s)",
      params: HostParams,
      body: z.strictObject({ akPublic: z.base64().max(1024).describe('TPM2B_PUBLIC of the AK'), adapterJwk: z.record(z.string(), z.unknown()).describe("the adapter's public JWK: its data-plane identity") }),
      status: 201,
      handler: ({ params, body }) => {
        if (!deps.tpm) throw new Problem('service-unavailable', 'the service has no TPM to make credentials with');
        return challengeHost(store.db, deps.tpm, params.hostId, body as never);
      },
    }),
    route({
      method: 'post',
      path: '/v1/hosts/:hostId/attestation',
      plane: 'data',
      permission: 'public',
      summary: 'Attest: the activated credential and an evidence bundle (quote of PCRs 17/18 with the nonce, DRTM log), signed by the adapter key',
      params: HostParams,
      body: z.strictObject({ challengeId: z.uuid(), credential: z.base64().max(128), evidence: z.record(z.string(), z.unknown()) }),
      maxBody: 1024 * 1024,
      handler: ({ params, body, signed, requestId }) => {
        const { publicJwk } = verifySelfSignedProof(signed);
        const actor = { plane: 'data' as const, principal: `hv:${params.hostId}`, actorChain: [`hv:${params.hostId}`], requestId };
        return attestHost(store.db, actor, deps.settings, params.hostId, jwkThumbprint(publicJwk), body);
      },
    }),
  ];
}
