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
  /** The admin plane (cloud-admin, health, metrics). Other planes join as they are built. */
  admin: Listener;
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
  return Object.freeze({
    dataDir: dataDirFromEnv(env),
    store: storeConfigFromEnv(env),
    admin: { host: env.SEALKEEP_ADMIN_BIND?.trim() || host, port: port(env, 'SEALKEEP_ADMIN_PORT', 7412) },
    logLevel: env.SEALKEEP_LOG_LEVEL?.trim() || 'info',
  });
}
