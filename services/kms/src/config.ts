// Service configuration: a JSON file (SEALKEEP_CONFIG) and the environment, the environment
// winning. Read once at start; the rest of the service receives a frozen ServiceConfig, and its
// measured form (measuredConfiguration) goes into PCR 19 at the measured start.
//
//   file key            environment                       default
//   bind                SEALKEEP_BIND                     127.0.0.1
//   tenant.host/.port   SEALKEEP_TENANT_BIND/_PORT        7410
//   data.host/.port     SEALKEEP_DATA_BIND/_PORT          7411
//   admin.host/.port    SEALKEEP_ADMIN_BIND/_PORT         7412
//   compliance.port     SEALKEEP_COMPLIANCE_BIND/_PORT    shares the admin listener
//   tpm                 SEALKEEP_TPM                      the in-process TPM (else mssim://host:port)
//   checkpoint.entries  SEALKEEP_CHECKPOINT_ENTRIES       100  (sign a checkpoint every N entries…)
//   checkpoint.seconds  SEALKEEP_CHECKPOINT_SECONDS       60   (…or T seconds after the last, if any are new)
//   logLevel            SEALKEEP_LOG_LEVEL                info
//   hostAttestationSeconds  SEALKEEP_HOST_ATTESTATION_SECONDS  600  (how long a host attestation holds)
//   manufacturerRoots   SEALKEEP_MANUFACTURER_ROOTS       $SEALKEEP_DATA_DIR/manufacturer-roots
//                       (a directory of PEM roots that hosts' EK certificates must chain to; each
//                       root's SHA-256 is part of the measured configuration)
//   tls.cert / tls.key  SEALKEEP_TLS_CERT / _KEY          none: plain HTTP
//                       (PEM files: the certificate chain, leaf first, and its private key; every
//                       listener then speaks TLS 1.2 or later only. Read again on SIGHUP, so a
//                       renewed certificate needs no restart; the files and the identity the
//                       certificate claims (names, issuer) are measured, which certificate is not)
//   tls.dataPlane       SEALKEEP_TLS_DATA_PLANE           on: with TLS on, "off" leaves the data plane's
//                       listener on plain HTTP (its block bodies are sealed either way; see
//                       docs/service.md for what else it then shows the network)
// The store comes from DATABASE_URL / SEALKEEP_DATA_DIR only (@sealkeep/store).

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { storeConfigFromEnv, dataDirFromEnv, describeStoreConfig, type StoreConfig } from '@sealkeep/store';
import { parseMssimUrl } from '@sealkeep/tpm';
import { readTlsCredentials, TlsCredentialsError, type TlsCredentials, type TlsFiles, type TlsIdentity } from './http/tls-credentials.js';

export interface Listener {
  host: string;
  port: number;
}

export interface ServiceConfig {
  dataDir: string;
  store: StoreConfig;
  /** Tenant plane: key loading and tenant administration. */
  tenant: Listener;
  /** Data plane: hypervisor adapters. */
  data: Listener;
  /** Admin plane: cloud-admin, health, metrics. */
  admin: Listener;
  /** Compliance plane: its own listener, or null to share the admin listener (never the tenant one). */
  compliance: Listener | null;
  /** The host TPM: an mssim URL, or null for the in-process TPM in the data directory. */
  tpm: string | null;
  checkpoint: { entries: number; seconds: number };
  logLevel: string;
  hostAttestationSeconds: number;
  /** Trusted TPM manufacturer roots for host EK certificates, with where each came from. */
  manufacturerRoots: ReadonlyArray<{ file: string; sha256: string; pem: string }>;
  /** TLS on the listeners (the files, the identity their certificate claimed at start, and whether the data plane's listener too), or null for plain HTTP (behind a proxy that terminates TLS, or on loopback). */
  tls: (TlsFiles & { identity: TlsIdentity; dataPlane: 'on' | 'off'; readonly credentials: TlsCredentials }) | null;
}

export class ConfigError extends Error {}

type FileListener = { host?: string; port?: number };
interface ConfigFile {
  bind?: string;
  tenant?: FileListener;
  data?: FileListener;
  admin?: FileListener;
  compliance?: FileListener;
  tpm?: string;
  checkpoint?: { entries?: number; seconds?: number };
  logLevel?: string;
  hostAttestationSeconds?: number;
  manufacturerRoots?: string;
  tls?: { cert?: string; key?: string; dataPlane?: string };
}

const FILE_KEYS = new Set(['bind', 'tenant', 'data', 'admin', 'compliance', 'tpm', 'checkpoint', 'logLevel', 'hostAttestationSeconds', 'manufacturerRoots', 'tls']);

function tlsSettings(env: NodeJS.ProcessEnv, file: ConfigFile): ServiceConfig['tls'] {
  if (file.tls !== undefined) {
    const block = file.tls as Record<string, unknown>;
    const wrong = !block || typeof block !== 'object' || Array.isArray(block) ? ['tls'] : Object.keys(block).filter((k) => !['cert', 'key', 'dataPlane'].includes(k) || typeof block[k] !== 'string');
    if (wrong.length) throw new ConfigError(`SEALKEEP_CONFIG: "tls" takes "cert" and "key", each a file name, and "dataPlane"; not ${wrong.map((k) => `"${k}"`).join(', ')}`);
  }
  const dataPlaneSetting = env.SEALKEEP_TLS_DATA_PLANE?.trim() ? 'SEALKEEP_TLS_DATA_PLANE' : 'tls.dataPlane';
  const dataPlane = env.SEALKEEP_TLS_DATA_PLANE?.trim() || file.tls?.dataPlane || 'on';
  if (dataPlane !== 'on' && dataPlane !== 'off') throw new ConfigError(`${dataPlaneSetting} is "on" (the default) or "off", not "${dataPlane}"`);
  const fromEnv = Boolean(env.SEALKEEP_TLS_CERT?.trim() || env.SEALKEEP_TLS_KEY?.trim());
  const certFile = env.SEALKEEP_TLS_CERT?.trim() || file.tls?.cert;
  const keyFile = env.SEALKEEP_TLS_KEY?.trim() || file.tls?.key;
  if (!certFile && !keyFile) {
    if (dataPlane === 'off') throw new ConfigError(`${dataPlaneSetting} leaves the data plane out of TLS, and TLS is not on (SEALKEEP_TLS_CERT, SEALKEEP_TLS_KEY)`);
    return null;
  }
  if (!certFile || !keyFile) throw new ConfigError('TLS needs both SEALKEEP_TLS_CERT and SEALKEEP_TLS_KEY (tls.cert and tls.key), or neither');
  const files: TlsFiles = { certFile, keyFile, from: fromEnv ? 'environment' : 'config file' };
  try {
    const credentials = readTlsCredentials(files);
    // The pair itself rides along for the listeners, read once; not enumerable, so neither measured nor ever in JSON.
    const settings = { ...files, identity: credentials.identity, dataPlane } as NonNullable<ServiceConfig['tls']>;
    return Object.freeze(Object.defineProperty(settings, 'credentials', { value: credentials }));
  } catch (e) {
    if (e instanceof TlsCredentialsError) throw new ConfigError(e.message);
    throw e;
  }
}

/** Every *.pem in the directory (none when it does not exist), in name order. */
function readRoots(dir: string): ServiceConfig['manufacturerRoots'] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.pem'))
    .sort()
    .map((f) => {
      const pem = readFileSync(path.join(dir, f), 'utf8');
      return Object.freeze({ file: f, sha256: createHash('sha256').update(pem).digest('hex'), pem });
    });
}

function readConfigFile(file: string | undefined): ConfigFile {
  if (!file) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`SEALKEEP_CONFIG ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`SEALKEEP_CONFIG ${file}: expected a JSON object`);
  const unknown = Object.keys(parsed).filter((k) => !FILE_KEYS.has(k));
  if (unknown.length) throw new ConfigError(`SEALKEEP_CONFIG ${file}: unknown setting ${unknown.map((k) => `"${k}"`).join(', ')}`);
  return parsed as ConfigFile;
}

function integer(name: string, raw: string | number | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  return n;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  const file = readConfigFile(env.SEALKEEP_CONFIG?.trim() || undefined);
  const host = env.SEALKEEP_BIND?.trim() || file.bind || '127.0.0.1';
  const listener = (plane: 'tenant' | 'data' | 'admin' | 'compliance', fallback: number): Listener => {
    const upper = plane.toUpperCase();
    return {
      host: env[`SEALKEEP_${upper}_BIND`]?.trim() || file[plane]?.host || host,
      port: integer(`SEALKEEP_${upper}_PORT`, env[`SEALKEEP_${upper}_PORT`] || file[plane]?.port, fallback, 0, 65535),
    };
  };
  const tenant = listener('tenant', 7410);
  const data = listener('data', 7411);
  const admin = listener('admin', 7412);
  const compliance = env.SEALKEEP_COMPLIANCE_PORT || file.compliance?.port !== undefined ? listener('compliance', 0) : null;
  if (compliance && compliance.port !== 0 && compliance.port === tenant.port) {
    throw new ConfigError('the compliance plane may share the admin listener, never the tenant one');
  }
  const ports = [tenant, data, admin, ...(compliance ? [compliance] : [])].map((l) => l.port).filter((p) => p !== 0);
  if (new Set(ports).size !== ports.length) throw new ConfigError(`each plane needs its own port, got ${ports.join(', ')}`);
  const tpm = env.SEALKEEP_TPM?.trim() || file.tpm || null;
  if (tpm) {
    try {
      parseMssimUrl(tpm);
    } catch (e) {
      throw new ConfigError(`SEALKEEP_TPM: ${(e as Error).message}`);
    }
  }
  return Object.freeze({
    dataDir: dataDirFromEnv(env),
    store: storeConfigFromEnv(env),
    tenant,
    data,
    admin,
    compliance,
    tpm,
    checkpoint: Object.freeze({
      entries: integer('SEALKEEP_CHECKPOINT_ENTRIES', env.SEALKEEP_CHECKPOINT_ENTRIES || file.checkpoint?.entries, 100, 1, 1_000_000),
      seconds: integer('SEALKEEP_CHECKPOINT_SECONDS', env.SEALKEEP_CHECKPOINT_SECONDS || file.checkpoint?.seconds, 60, 1, 86_400),
    }),
    logLevel: env.SEALKEEP_LOG_LEVEL?.trim() || file.logLevel || 'info',
    hostAttestationSeconds: integer('SEALKEEP_HOST_ATTESTATION_SECONDS', env.SEALKEEP_HOST_ATTESTATION_SECONDS || file.hostAttestationSeconds, 600, 30, 86_400),
    manufacturerRoots: Object.freeze(readRoots(env.SEALKEEP_MANUFACTURER_ROOTS?.trim() || file.manufacturerRoots || path.join(dataDirFromEnv(env), 'manufacturer-roots'))),
    tls: tlsSettings(env, file),
  });
}

/**
 * The configuration as the measured start records it (PCR 19): every setting that changes what
 * the service does, with the store's password redacted. Changing any of it needs an approval.
 */
export function measuredConfiguration(config: ServiceConfig): Record<string, unknown> {
  return {
    listeners: { tenant: config.tenant, data: config.data, admin: config.admin, compliance: config.compliance },
    store: describeStoreConfig(config.store),
    dataDir: config.dataDir,
    tpm: config.tpm ?? 'in-process',
    checkpoint: config.checkpoint,
    logLevel: config.logLevel,
    hostAttestationSeconds: config.hostAttestationSeconds,
    manufacturerRoots: config.manufacturerRoots.map(({ file, sha256 }) => ({ file, sha256 })),
    // Where the pair is and who its certificate says the service is, not which certificate: a
    // renewal (same names, same issuer) needs no approval; another identity, or TLS off, does.
    tls: config.tls ? { certFile: config.tls.certFile, keyFile: config.tls.keyFile, ...config.tls.identity, dataPlane: config.tls.dataPlane } : 'off',
  };
}
