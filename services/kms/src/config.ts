// Service configuration from the environment: listeners of each plane and the store.
// Read once at start; the rest of the service receives a frozen ServiceConfig.

import { storeConfigFromEnv, dataDirFromEnv, type StoreConfig } from '@sealkeep/store';

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
  logLevel: string;
}

export class ConfigError extends Error {}

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`${name} must be a port number (0-65535), got "${raw}"`);
  return n;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  const host = env.SEALKEEP_BIND?.trim() || '127.0.0.1';
  const listener = (plane: string, fallback: number): Listener => ({
    host: env[`SEALKEEP_${plane}_BIND`]?.trim() || host,
    port: port(env, `SEALKEEP_${plane}_PORT`, fallback),
  });
  const tenant = listener('TENANT', 7410);
  const data = listener('DATA', 7411);
  const admin = listener('ADMIN', 7412);
  const compliance = env.SEALKEEP_COMPLIANCE_PORT ? listener('COMPLIANCE', 0) : null;
  if (compliance && compliance.port !== 0 && compliance.port === tenant.port) {
    throw new ConfigError('the compliance plane may share the admin listener, never the tenant one');
  }
  const ports = [tenant, data, admin, ...(compliance ? [compliance] : [])].map((l) => l.port).filter((p) => p !== 0);
  if (new Set(ports).size !== ports.length) throw new ConfigError(`each plane needs its own port, got ${ports.join(', ')}`);
  return Object.freeze({
    dataDir: dataDirFromEnv(env),
    store: storeConfigFromEnv(env),
    tenant,
    data,
    admin,
    compliance,
    logLevel: env.SEALKEEP_LOG_LEVEL?.trim() || 'info',
  });
}
