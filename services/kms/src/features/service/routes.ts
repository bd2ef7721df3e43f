// The service's own measurements, for everyone who must decide whether to trust it: tenants,
// reviewers and the provider's operators see the same thing — the code and configuration
// digests, the configuration document, PCRs 17–19 as the TPM holds them, the launch's event log
// (CEL), who approved this configuration, and the attestation key that signs audit checkpoints.

import { z } from 'zod';
import { Problem } from '../../http/problems.js';
import { route, type Plane } from '../../http/route.js';
import type { ServiceState } from '../../platform/measured-start.js';

const Measurements = z.object({
  tpm: z.string(),
  root: z.enum(['unsealed', 'uninitialised']),
  codeDigest: z.string(),
  configurationDigest: z.string(),
  configuration: z.record(z.string(), z.unknown()),
  codeManifest: z.string(),
  pcrs: z.record(z.string(), z.string()),
  launchLog: z.array(z.unknown()),
  approval: z.object({ kind: z.enum(['first-start', 'signed']), approvedBy: z.string().nullable(), approvedAt: z.string().nullable() }).nullable(),
  attestationKey: z.object({ publicKeyPem: z.string(), name: z.string() }),
});

const PLANES: Plane[] = ['tenant', 'admin', 'compliance'];

export function serviceRoutes(state: ServiceState | undefined) {
  return PLANES.map((plane) =>
    route({
      method: 'get',
      path: '/v1/service/measurements',
      plane,
      permission: 'service.measurements.read',
      summary: "The service's measured launch: code and configuration digests, PCRs 17–19, the event log, the approval and the AK",
      response: Measurements,
      handler: () => {
        if (!state) throw new Problem('service-unavailable', 'this instance runs without a host TPM: it has no measurements');
        const m = state.measurements;
        return {
          tpm: state.tpm,
          root: state.root,
          codeDigest: m.codeDigest,
          configurationDigest: m.configurationDigest,
          configuration: JSON.parse(m.configuration) as Record<string, unknown>,
          codeManifest: m.codeManifest,
          pcrs: state.pcrs,
          launchLog: state.launchLog.toJSON(),
          approval: state.approval,
          attestationKey: { publicKeyPem: state.ak.publicKeyPem, name: state.ak.name.toString('hex') },
        };
      },
    }),
  );
}
