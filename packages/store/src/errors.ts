// Turning a failure to open the store into one line an operator can act on. Connection
// errors from pg and PGlite arrive in many shapes; this is where they become StoreOpenError.

import { describeStoreConfig, type StoreConfig } from './config.js';

export class StoreOpenError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreOpenError';
  }
}

interface DriverError {
  code?: string;
  errno?: number;
  message?: string;
  address?: string;
  port?: number;
  hostname?: string;
}

/** Why the store could not be opened, in one line, never with a password. */
export function explainOpenFailure(config: StoreConfig, err: unknown): StoreOpenError {
  const e = (err ?? {}) as DriverError;
  const where = describeStoreConfig(config);
  let why: string;
  switch (e.code) {
    case 'ECONNREFUSED':
      why = 'connection refused (is the server running and listening there?)';
      break;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      why = `host ${e.hostname ?? ''} not found`.replace('  ', ' ');
      break;
    case 'ETIMEDOUT':
      why = 'connection timed out';
      break;
    case '3D000':
      why = 'that database does not exist';
      break;
    case '28P01':
    case '28000':
      why = 'authentication failed';
      break;
    case '57P03':
      why = 'the server is starting up or shutting down';
      break;
    case 'EACCES':
    case 'EROFS':
      why = 'the data directory is not writable';
      break;
    default:
      why = firstLine(e.message) || String(err);
  }
  return new StoreOpenError(`cannot open the store (${where}): ${why}`, { cause: err });
}

function firstLine(s: string | undefined): string {
  return (s ?? '').split('\n')[0]!.trim();
}

/** Refuse a DATABASE_URL that is not a PostgreSQL URL before trying to connect. */
export function checkPostgresUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new StoreOpenError('DATABASE_URL is not a valid URL (expected postgres://user@host:port/database)');
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new StoreOpenError(`DATABASE_URL must use the postgres:// scheme, not ${u.protocol}//`);
  }
  if (!u.pathname || u.pathname === '/') {
    throw new StoreOpenError('DATABASE_URL names no database (expected postgres://user@host:port/database)');
  }
}
