// The token endpoint: POST /v1/token, OAuth 2.0 Token Exchange (RFC 8693) with a form body, on
// the tenant plane (delegates) and the data plane (hypervisor adapters); and the service's
// signing key, public on both: what verifies the delegation tokens it issues and the block
// sessions it opens (an adapter pins it).

import { z } from 'zod';
import { publicJwk } from '@sealkeep/crypto';
import type { Store } from '@sealkeep/store';
import type { TokenKey } from '../../auth/token-key.js';
import { route } from '../../http/route.js';
import { ACCESS_TOKEN_TYPE, exchangeToken, JWT_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT } from './exchange.js';
import { LABEL } from './service-token.js';
import { makeServiceKeyEvidence, type ServiceKeyEvidenceDeps } from './service-key-evidence.js';
import type { EvidenceBundle } from '@sealkeep/attestation';

const ExchangeForm = z.strictObject({
  grant_type: z.string().max(128).describe(TOKEN_EXCHANGE_GRANT),
  subject_token: z.string().min(1).max(8192).describe("A user's grant (sealkeep-grant+jwt) or a delegation token from the previous hop"),
  subject_token_type: z.string().max(128).describe(`${JWT_TOKEN_TYPE} for a grant, ${ACCESS_TOKEN_TYPE} for a delegation token`),
  scope: z.string().max(1024).optional().describe('Space-separated permission names; may only narrow the subject token\'s scope'),
  next_actor: z.string().regex(LABEL, 'a principal label such as hv:vpxuser@host-07').optional().describe('Who may exchange the issued token for the next hop (its may_act)'),
  requested_token_type: z.string().max(128).optional().describe(`Only ${JWT_TOKEN_TYPE}`),
});

const ExchangeResponse = z.object({
  access_token: z.string(),
  issued_token_type: z.literal(JWT_TOKEN_TYPE),
  token_type: z.literal('N_A'),
  expires_in: z.number().int(),
  scope: z.string().optional(),
});

const ServiceKeyResponse = z.object({
  kid: z.string().describe("RFC 7638 thumbprint of the key: the `kid` of every token and session proof it signs"),
  alg: z.literal('ES256'),
  jwk: z.record(z.string(), z.unknown()).describe('The public key (JWK, EC P-256)'),
  evidence: z
    .record(z.string(), z.unknown())
    .nullable()
    .describe("An evidence bundle (sealkeep-evidence): the service TPM's quote of its measured launch (PCRs 17–19), naming this key in its qualifying data; null without a host TPM"),
});

export function tokenRoutes(store: Store, key: TokenKey, evidenceDeps?: ServiceKeyEvidenceDeps) {
  const serviceKey = { kid: key.kid, alg: 'ES256' as const, jwk: publicJwk(key.publicKey) as Record<string, unknown> };
  // Made at the first request that asks (a TPM quote), then the same: neither key nor launch
  // changes while the service runs. A quote that failed is tried again at the next request.
  let evidence: Promise<EvidenceBundle | null> | undefined;
  const evidenceOnce = () =>
    (evidence ??= evidenceDeps
      ? makeServiceKeyEvidence(evidenceDeps, key.kid).catch((error: unknown) => {
          evidence = undefined;
          throw error;
        })
      : Promise.resolve(null));
  return (['tenant', 'data'] as const).flatMap((plane) => [
    route({
      method: 'get',
      path: '/v1/service-key',
      plane,
      permission: 'public',
      summary: "The service's signing key (public): it signs delegation tokens and every block session's opening; derived from the unsealed service root, the same on every node",
      response: ServiceKeyResponse,
      handler: async () => ({ ...serviceKey, evidence: await evidenceOnce() }),
    }),
    route({
      method: 'post',
      path: '/v1/token',
      plane,
      permission: 'token.exchange',
      summary: "Token exchange (RFC 8693): a user's grant or a previous hop's delegation token for a delegation token bound to the caller's key",
      bodyType: 'form',
      body: ExchangeForm,
      response: ExchangeResponse,
      maxBody: 16 * 1024,
      // RFC 6749 §5.1: responses carrying tokens are not cached.
      responseHeaders: { 'cache-control': 'no-store' },
      handler: ({ body, principal, actor }) => exchangeToken(store.db, key, principal!, actor!, body),
    }),
  ]);
}
