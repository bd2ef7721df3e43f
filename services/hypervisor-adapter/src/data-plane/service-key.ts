// The service key this adapter trusts: the service's signing key, which signs every block
// session's opening (@sealkeep/crypto's session proof), so a session's ECDH point is known to be
// the service's and no one on the network can stand in between. Three ways, strongest first:
// - proven by its evidence (`--service-root FILE --service-measurements FILE`): the service's TPM
//   quotes its measured launch with the key's thumbprint in the qualifying data; the quote must
//   chain to the manufacturer root given and show the approved code and configuration
//   (@sealkeep/attestation's verifyServiceKeyEvidence). Nothing is taken on trust, not even once;
// - given out of band (`--service-key FILE`, the JWK that GET /v1/service-key answers, as the
//   operator read it from the service);
// - else trusted on first use and kept beside the adapter's key, as SSH keeps a host's key: from
//   then on, a service presenting any other key is refused before a volume opens. Only where the
//   first key cannot come from just anyone on the network: over TLS (the service's certificate
//   names it), or when the operator says so (--trust-service-key-on-first-use); over plain HTTP
//   with no key known yet, the adapter refuses to start.

import type { JsonWebKey, KeyObject } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { importPublicJwk, jwkThumbprint } from '@sealkeep/crypto';
import { fetchServiceKey, ServiceIdentityError, serviceDigestsOf, verifyServiceKeyEvidence } from '@sealkeep/sdk';
import type { Logger } from '../logger.js';

export interface TrustedServiceKeyOptions {
  dataUrl: string;
  /** A key given out of band: a JWK, or GET /v1/service-key's answer (its `jwk`), in a file. */
  givenFile?: string;
  /** Where a key trusted on first use is kept (and read back from on later starts). */
  pinFile: string;
  /** The key proven by its evidence instead: the manufacturer root (PEM) and the approved digests (JSON), in files. */
  evidence?: { rootFile: string; measurementsFile: string };
  /** Pin the first key presented even over plain HTTP (the operator's word that no one stands in between). */
  trustOnFirstUse?: boolean;
  log: Logger;
}

/** No key is known yet, and the first one would come over plain HTTP: the adapter does not start. */
export class FirstKeyOverPlainHttp extends Error {
  override name = 'FirstKeyOverPlainHttp';
}

/** The pin file for an adapter key file: beside it. */
export const pinFileFor = (adapterKeyFile: string) => `${adapterKeyFile}.service-key.json`;

async function readKeyFile(file: string): Promise<KeyObject> {
  const json = JSON.parse(await readFile(file, 'utf8')) as JsonWebKey & { jwk?: JsonWebKey };
  return importPublicJwk(json.jwk ?? json);
}

/** The key sessions must be proven by; refuses a service that presents another than the one given or pinned, one its evidence does not prove, or a first key over plain HTTP unless trustOnFirstUse. */
export async function trustedServiceKey(o: TrustedServiceKeyOptions): Promise<{ key: KeyObject; kid: string }> {
  if (o.evidence) {
    const served = await fetchServiceKey(o.dataUrl);
    const approved = serviceDigestsOf(JSON.parse(await readFile(o.evidence.measurementsFile, 'utf8')), o.evidence.measurementsFile);
    const result = await verifyServiceKeyEvidence(served.evidence, { kid: served.kid, trustedRoots: [await readFile(o.evidence.rootFile, 'utf8')], approved });
    const failed = result.findings.filter((f) => f.severity === 'error');
    if (!result.ok) throw new ServiceIdentityError(`its evidence does not prove the service key ${served.kid}: ${failed.map((f) => `${f.id} (${f.message})`).join('; ')}`);
    o.log.info({ kid: served.kid, codeDigest: approved.codeDigest, configurationDigest: approved.configurationDigest }, "the service key is proven by its TPM's quote of the approved launch");
    return served;
  }
  let pinned: KeyObject | null = null;
  if (o.givenFile) pinned = await readKeyFile(o.givenFile);
  else {
    try {
      pinned = await readKeyFile(o.pinFile);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  // (refused before the service is asked: the operator reads why, whether or not it answers)
  if (!pinned && new URL(o.dataUrl).protocol !== 'https:' && !o.trustOnFirstUse) {
    throw new FirstKeyOverPlainHttp(
      `no service key is known yet, and over plain HTTP (${o.dataUrl}) anyone on the network could present its own: ` +
        'give it (--service-key FILE), have it proven by its evidence (--service-root FILE --service-measurements FILE), ' +
        'name the service https://, or take the first key presented with --trust-service-key-on-first-use',
    );
  }
  const served = await fetchServiceKey(o.dataUrl);
  if (!pinned) {
    await writeFile(o.pinFile, JSON.stringify({ kid: served.kid, jwk: served.key.export({ format: 'jwk' }) }, null, 2) + '\n', { flag: 'wx' });
    o.log.warn({ kid: served.kid, pinFile: o.pinFile }, 'trusted the service key on first use: compare its kid with the one the service operator publishes');
    return served;
  }
  const kid = jwkThumbprint(pinned.export({ format: 'jwk' }));
  if (kid !== served.kid) throw new ServiceIdentityError(`the service presents key ${served.kid}, not the trusted ${kid} (${o.givenFile ?? o.pinFile})`);
  return { key: pinned, kid };
}
