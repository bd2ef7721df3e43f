// A TXT-style measured launch (DRTM) through TPM commands, for a host and for the service's own
// start. What Intel TXT's GETSEC[SENTER], SINIT ACM and MLE do, in order:
//
//   1. _TPM_Hash_Start/Data/End with the SINIT ACM at locality 4: PCRs 17–22 reset to zero and
//      PCR 17 extended with H(SINIT) in every bank                           (EVTYPE_HASH_START)
//   2. SINIT, at locality 3, checks the MLE against the launch-control policy (launch-policy.ts)
//      - allowed: PCR 18 extended with H(MLE)                                  (EVTYPE_MLE_HASH)
//      - refused: PCR 17 capped with H("sealkeep launch refused: <why>" || SHA-256(MLE)), so no
//        PolicyPCR over 17/18 of a good launch can be satisfied until the next launch
//                                                                             (EVTYPE_CAP_VALUE)
//   3. the MLE, at locality 2, measures its modules into PCR 19 (or 20–22)          (EV_IPL)
//
// Event types are Intel TXT's (Software Development Guide, "TPM Event Log"; see cel.ts). Every
// extension is appended to a CEL log that is returned for the caller to keep beside the static
// log; replay(log) gives back the PCR values. The real SINIT measures more into PCR 17 (BIOS ACM
// registers, LCP control hash, OsSinitData capabilities); this launch measures what it decides on.
// The TPM must be started; the transport must offer localities and the DRTM signals.

import { TpmClient } from '../client/client.js';
import { password } from '../client/auth.js';
import type { Transport } from '../client/transport.js';
import { digest } from '../crypto/hash.js';
import { TPM_ALG } from '../wire/constants.js';
import { TPM_CAP } from '../wire/types/index.js';
import { GetCapability } from '../commands/capability/index.js';
import { PCR_Extend } from '../commands/pcr/index.js';
import { CelLog, type CelHashAlg, type EventTypeName } from './cel.js';
import { LAUNCH_POLICY_NV_INDEX, LaunchPolicyError, readLaunchPolicy } from './launch-policy.js';

/** A transport that can select a locality and send the DRTM signals (InProcessTransport, MssimTransport). */
export interface LaunchTarget extends Transport {
  locality: number;
  dynamicLaunch(data: Buffer): Promise<void>;
}

export interface LaunchModule {
  /** Recorded as the EV_IPL event data. */
  name: string;
  data: Buffer;
  /** 19 (default) to 22. */
  pcr?: number;
}

export interface LaunchOptions {
  /** The SINIT ACM image (hashed by the TPM through _TPM_Hash_Data). */
  sinit: Buffer;
  /** The MLE image: the hypervisor or service to launch. */
  mle: Buffer;
  /** Further modules the MLE measures after it starts. */
  modules?: ReadonlyArray<LaunchModule | Buffer>;
  /**
   * The allowlist of MLE SHA-256 digests to enforce; 'any' launches any MLE (TXT's
   * LCP_POLTYPE_ANY). Omitted: the platform's policy in NV index 0x01C10110; a launch with no
   * policy provisioned is refused.
   */
  policy?: readonly Buffer[] | 'any';
}

export type LaunchResult =
  | { ok: true; mleDigest: Buffer; log: CelLog }
  | { ok: false; reason: string; mleDigest: Buffer; log: CelLog };

/** Localities of the parts of a launch (Intel TXT: SINIT runs at 3, the MLE at 2). */
export const SINIT_LOCALITY = 3;
export const MLE_LOCALITY = 2;

export const REFUSAL_PREFIX = 'sealkeep launch refused: ';
export const REFUSED_NOT_LISTED = 'MLE not in launch control policy';

/** The data PCR 17 is capped with when a launch is refused: H_bank of it is extended. */
export function refusalMeasurement(reason: string, mleDigest: Buffer): Buffer {
  return Buffer.concat([Buffer.from(REFUSAL_PREFIX + reason, 'utf8'), mleDigest]);
}

const CEL_ALG: ReadonlyMap<number, CelHashAlg> = new Map([
  [TPM_ALG.SHA1, 'sha1'],
  [TPM_ALG.SHA256, 'sha256'],
  [TPM_ALG.SHA384, 'sha384'],
]);

/** The PCR banks the TPM has allocated (GetCapability(TPM_CAP_PCRS)) that CEL can name. */
async function activeBanks(client: TpmClient): Promise<number[]> {
  const { capabilityData } = await client.call(GetCapability, {}, { capability: TPM_CAP.PCRS, property: 0, propertyCount: 1 });
  const selections = capabilityData.data as Array<{ hash: number; pcrSelect: Buffer }>;
  return selections.filter((s) => s.pcrSelect.some((b) => b !== 0) && CEL_ALG.has(s.hash)).map((s) => s.hash);
}

type Decision = { allowed: true } | { allowed: false; reason: string };

async function decide(client: TpmClient, policy: LaunchOptions['policy'], mleDigest: Buffer): Promise<Decision> {
  if (policy === 'any') return { allowed: true };
  let allowlist: readonly Buffer[] | null;
  if (policy) {
    allowlist = policy;
  } else {
    try {
      allowlist = await readLaunchPolicy(client);
    } catch (e) {
      if (e instanceof LaunchPolicyError) return { allowed: false, reason: `launch control policy unreadable (${e.message})` };
      throw e;
    }
    if (!allowlist) return { allowed: false, reason: `no launch control policy in NV index 0x${LAUNCH_POLICY_NV_INDEX.toString(16)}` };
  }
  return allowlist.some((d) => d.equals(mleDigest)) ? { allowed: true } : { allowed: false, reason: REFUSED_NOT_LISTED };
}

export async function launch(target: LaunchTarget, opts: LaunchOptions): Promise<LaunchResult> {
  const client = new TpmClient(target);
  const log = new CelLog();
  const banks = await activeBanks(client);
  const hashes = (data: Buffer) => banks.map((alg) => ({ hashAlg: alg, digest: digest(alg, data) }));
  const record = (pcr: number, type: EventTypeName, eventData: Buffer, digests: Array<{ hashAlg: number; digest: Buffer }>) =>
    log.appendEvent(pcr, type, eventData, digests.map((d) => [CEL_ALG.get(d.hashAlg)!, d.digest]));
  const extend = async (locality: number, pcr: number, type: EventTypeName, measured: Buffer, eventData: Buffer) => {
    const digests = hashes(measured);
    target.locality = locality;
    await client.call(PCR_Extend, { pcrHandle: pcr }, { digests }, { auth: [password()] });
    record(pcr, type, eventData, digests);
  };

  const mleDigest = digest(TPM_ALG.SHA256, opts.mle);
  const modules = (opts.modules ?? []).map((m, i) => (Buffer.isBuffer(m) ? { name: `module ${i}`, data: m } : m));
  for (const m of modules) {
    const pcr = m.pcr ?? 19;
    if (!Number.isInteger(pcr) || pcr < 19 || pcr > 22) throw new RangeError(`module "${m.name}": PCR ${pcr} is not one of 19–22`);
  }

  const restore = target.locality;
  try {
    await target.dynamicLaunch(opts.sinit);
    record(17, 'EVTYPE_HASH_START', Buffer.alloc(0), hashes(opts.sinit));

    target.locality = SINIT_LOCALITY;
    const decision = await decide(client, opts.policy, mleDigest);
    if (!decision.allowed) {
      const cap = refusalMeasurement(decision.reason, mleDigest);
      await extend(SINIT_LOCALITY, 17, 'EVTYPE_CAP_VALUE', cap, cap);
      return { ok: false, reason: decision.reason, mleDigest, log };
    }
    await extend(SINIT_LOCALITY, 18, 'EVTYPE_MLE_HASH', opts.mle, Buffer.alloc(0));
    for (const m of modules) await extend(MLE_LOCALITY, m.pcr ?? 19, 'EV_IPL', m.data, Buffer.from(m.name, 'utf8'));
    return { ok: true, mleDigest, log };
  } finally {
    target.locality = restore;
  }
}
