// A TPM's state that survives power loss — what a hardware TPM keeps in NV — as one versioned,
// JSON-serialisable object (binary values base64, wire structures marshaled with their codecs):
// the primary seeds, hierarchy authorizations and enables, NV indices, persistent objects,
// dictionary-attack parameters and count, the clock and its counters, the context secret, the
// derived-primary RSA cache, and what the last TPM2_Shutdown saved.
//
// importState() is a power-on from that state: the TPM must not be started, and the next
// TPM2_Startup decides what the state means (Part 1 §12, reference TPM2_Startup):
//   - after Shutdown(STATE): Startup(STATE) resumes — saved PCRs 0–15, the null seed, the
//     STCLEAR settings (enables, platformAuth, NV locks) — and Startup(CLEAR) restarts;
//   - after Shutdown(CLEAR), or with no Shutdown since the last Startup, only Startup(CLEAR)
//     works, a TPM Reset: a new null seed, STCLEAR settings reinitialised, resetCount + 1; with
//     no Shutdown the power loss was not orderly, so `safe` goes false and one DA failure counts.
// The null seed is saved only by Shutdown(STATE): after anything else it is replaced anyway.
// Saved session contexts (ContextSave of a session) do not survive a power cycle here.

import { marshal, unmarshal } from '../wire/codec.js';
import { TPM_RH, TPM_SU } from '../wire/constants.js';
import { TPMS_NV_PUBLIC, TPMT_PUBLIC, TPMT_SENSITIVE } from '../wire/types/index.js';
import { exportContextSecret, importContextSecret } from '../commands/context/context-blob.js';
import { exportDerivedRsa, importDerivedRsa } from './keys.js';
import { objectName } from './names.js';
import type { Tpm } from './tpm.js';

export const TPM_STATE_VERSION = 1;

type B64 = string;

interface AuthState {
  authValue: B64;
  authPolicy: B64;
  policyAlg: number;
}

export interface TpmState {
  version: typeof TPM_STATE_VERSION;
  /** Startup has run since manufacture: a start without Shutdown before it lost power. */
  hasStarted: boolean;
  /** The endorsement, owner and platform primary seeds. */
  seeds: { endorsement: B64; owner: B64; platform: B64 };
  hierarchies: {
    owner: AuthState;
    endorsement: AuthState;
    lockout: AuthState;
    /** platformAuth/Policy and the enables are STCLEAR: only a resume keeps them. */
    platform: AuthState;
    shEnable: boolean;
    ehEnable: boolean;
    phEnable: boolean;
    phEnableNV: boolean;
    disableClear: boolean;
  };
  nv: {
    /** The largest count a deleted counter index held (decimal). */
    maxCounter: string;
    /** public: TPMS_NV_PUBLIC with the attributes as they are (WRITTEN, locks). */
    indices: Array<{ public: B64; authValue: B64; data: B64 }>;
  };
  /** Persistent objects: TPMT_PUBLIC and TPMT_SENSITIVE marshaled. */
  objects: Array<{ handle: number; hierarchy: number; isPrimary: boolean; qualifiedName: B64; authValue: B64; public: B64; sensitive: B64 }>;
  dictionaryAttack: { maxTries: number; recoveryTime: number; lockoutRecovery: number; failedTries: number; lockoutAuthLocked: boolean };
  /** clock in milliseconds (decimal); it does not run while the TPM is off. */
  clock: { clock: string; resetCount: number; restartCount: number; safe: boolean };
  /** The secret saved contexts are protected with, and the last context sequence number (decimal). */
  context: { secret: B64; sequence: string };
  /** What the last Shutdown saved; null when none has run since the last Startup. */
  shutdown: null | {
    type: 'CLEAR' | 'STATE';
    /** STATE only: the null seed, and PCRs 0–15 of each bank. */
    nullSeed?: B64;
    pcrs?: Array<{ hashAlg: number; values: B64[] }>;
  };
  /** Derived primary RSA keys (modulus and one prime), so CreatePrimary needs no prime search. */
  derivedRsa: Array<{ key: string; exponent: number; modulus: B64; prime: B64 }>;
}

const b64 = (b: Buffer): B64 => b.toString('base64');

const HIERARCHY_NAMES = { owner: TPM_RH.OWNER, endorsement: TPM_RH.ENDORSEMENT, lockout: TPM_RH.LOCKOUT, platform: TPM_RH.PLATFORM } as const;

export function exportState(tpm: Tpm): TpmState {
  const h = tpm.hierarchy;
  const auth = (handle: number): AuthState => {
    const a = h.authOf(handle);
    return { authValue: b64(a.authValue), authPolicy: b64(a.authPolicy), policyAlg: a.policyAlg };
  };
  const shutdown = tpm.shutdown;
  const context = exportContextSecret(tpm);
  return {
    version: TPM_STATE_VERSION,
    hasStarted: tpm.hasStarted,
    seeds: { endorsement: b64(h.seed(TPM_RH.ENDORSEMENT)), owner: b64(h.seed(TPM_RH.OWNER)), platform: b64(h.seed(TPM_RH.PLATFORM)) },
    hierarchies: {
      owner: auth(TPM_RH.OWNER),
      endorsement: auth(TPM_RH.ENDORSEMENT),
      lockout: auth(TPM_RH.LOCKOUT),
      platform: auth(TPM_RH.PLATFORM),
      shEnable: h.shEnable,
      ehEnable: h.ehEnable,
      phEnable: h.phEnable,
      phEnableNV: h.phEnableNV,
      disableClear: h.disableClear,
    },
    nv: {
      maxCounter: tpm.nv.maxCounter.toString(),
      indices: [...tpm.nv.entries()].map((i) => ({ public: b64(marshal(TPMS_NV_PUBLIC, i.public)), authValue: b64(i.authValue), data: b64(i.data) })),
    },
    objects: tpm.objects.persistentHandles().map((handle) => {
      const o = tpm.objects.get(handle);
      if (!o.sensitive) throw new Error(`persistent object 0x${handle.toString(16)} has no sensitive area`);
      return {
        handle,
        hierarchy: o.hierarchy,
        isPrimary: o.isPrimary,
        qualifiedName: b64(o.qualifiedName),
        authValue: b64(o.authValue),
        public: b64(marshal(TPMT_PUBLIC.plus, o.public)),
        sensitive: b64(marshal(TPMT_SENSITIVE, o.sensitive)),
      };
    }),
    dictionaryAttack: {
      maxTries: tpm.da.maxTries,
      recoveryTime: tpm.da.recoveryTime,
      lockoutRecovery: tpm.da.lockoutRecovery,
      ...tpm.da.persistentState(),
    },
    clock: { clock: tpm.clock.clock().toString(), resetCount: tpm.clock.resetCount, restartCount: tpm.clock.restartCount, safe: tpm.clock.safe },
    context: { secret: b64(context.secret), sequence: context.sequence.toString() },
    shutdown:
      shutdown === null
        ? null
        : shutdown.type === TPM_SU.STATE
          ? {
              type: 'STATE',
              nullSeed: b64(h.seed(TPM_RH.NULL)),
              pcrs: Object.entries(shutdown.pcrs).map(([alg, values]) => ({ hashAlg: Number(alg), values: values.map((v) => b64(Buffer.from(v, 'hex'))) })),
            }
          : { type: 'CLEAR' },
    derivedRsa: exportDerivedRsa(tpm).map((e) => ({ key: e.key, exponent: e.exponent, modulus: b64(e.modulus), prime: b64(e.prime) })),
  };
}

/** Power on `tpm` (new, not started) with saved state; throws on a state this code cannot read. */
export function importState(tpm: Tpm, state: TpmState): void {
  if (tpm.started) throw new Error('importState: the TPM is running; import into a TPM before its Startup');
  if (state?.version !== TPM_STATE_VERSION) throw new Error(`unsupported TPM state version ${String(state?.version)} (expected ${TPM_STATE_VERSION})`);
  const bin = (v: unknown, what: string): Buffer => {
    if (typeof v !== 'string') throw new Error(`TPM state: ${what} is missing`);
    // Copied into an allocation of its own: a small Buffer.from() is a slice of Node's shared
    // 8 KiB pool, and one slice kept by a loaded TPM would keep the whole pool chunk alive.
    const decoded = Buffer.from(v, 'base64');
    const own = Buffer.alloc(decoded.length);
    decoded.copy(own);
    return own;
  };

  const h = tpm.hierarchy;
  h.seeds.set(TPM_RH.ENDORSEMENT, bin(state.seeds.endorsement, 'seeds.endorsement'));
  h.seeds.set(TPM_RH.OWNER, bin(state.seeds.owner, 'seeds.owner'));
  h.seeds.set(TPM_RH.PLATFORM, bin(state.seeds.platform, 'seeds.platform'));
  for (const [name, handle] of Object.entries(HIERARCHY_NAMES)) {
    const a = state.hierarchies[name as keyof typeof HIERARCHY_NAMES];
    h.setAuthValue(handle, bin(a.authValue, `hierarchies.${name}.authValue`));
    h.setPolicy(handle, bin(a.authPolicy, `hierarchies.${name}.authPolicy`), a.policyAlg);
  }
  h.shEnable = state.hierarchies.shEnable;
  h.ehEnable = state.hierarchies.ehEnable;
  h.phEnable = state.hierarchies.phEnable;
  h.phEnableNV = state.hierarchies.phEnableNV;
  h.disableClear = state.hierarchies.disableClear;

  tpm.nv.maxCounter = BigInt(state.nv.maxCounter);
  for (const [n, i] of state.nv.indices.entries()) {
    const pub = unmarshal(TPMS_NV_PUBLIC, bin(i.public, `nv.indices[${n}].public`));
    tpm.nv.restore(pub, bin(i.authValue, `nv.indices[${n}].authValue`), bin(i.data, `nv.indices[${n}].data`));
  }

  for (const [n, o] of state.objects.entries()) {
    const pub = unmarshal(TPMT_PUBLIC.plus, bin(o.public, `objects[${n}].public`));
    tpm.objects.makePersistent(o.handle, {
      public: pub,
      publicArea: marshal(TPMT_PUBLIC.plus, pub),
      name: objectName(pub),
      sensitive: unmarshal(TPMT_SENSITIVE, bin(o.sensitive, `objects[${n}].sensitive`)),
      authValue: bin(o.authValue, `objects[${n}].authValue`),
      hierarchy: o.hierarchy,
      qualifiedName: bin(o.qualifiedName, `objects[${n}].qualifiedName`),
      isPrimary: o.isPrimary,
      isExternal: false,
    });
  }

  const da = state.dictionaryAttack;
  tpm.da.maxTries = da.maxTries;
  tpm.da.recoveryTime = da.recoveryTime;
  tpm.da.lockoutRecovery = da.lockoutRecovery;
  tpm.da.restorePersistentState({ failedTries: da.failedTries, lockoutAuthLocked: da.lockoutAuthLocked });

  tpm.clock.set(BigInt(state.clock.clock));
  tpm.clock.resetCount = state.clock.resetCount;
  tpm.clock.restartCount = state.clock.restartCount;
  tpm.clock.safe = state.clock.safe;
  tpm.clock.powerOn();

  importContextSecret(tpm, { secret: bin(state.context.secret, 'context.secret'), sequence: BigInt(state.context.sequence) });

  const s = state.shutdown;
  if (s === null) tpm.shutdown = null;
  else if (s.type === 'STATE') {
    h.seeds.set(TPM_RH.NULL, bin(s.nullSeed, 'shutdown.nullSeed'));
    const pcrs: Record<number, string[]> = {};
    for (const bank of s.pcrs ?? []) pcrs[bank.hashAlg] = bank.values.map((v) => bin(v, 'shutdown.pcrs').toString('hex'));
    tpm.shutdown = { type: TPM_SU.STATE, pcrs };
  } else tpm.shutdown = { type: TPM_SU.CLEAR, pcrs: {} };
  tpm.hasStarted = state.hasStarted;

  importDerivedRsa(
    tpm,
    state.derivedRsa.map((e) => ({ key: e.key, exponent: e.exponent, modulus: bin(e.modulus, 'derivedRsa.modulus'), prime: bin(e.prime, 'derivedRsa.prime') })),
  );
}
