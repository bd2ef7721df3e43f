// The adapter's logging seam: pino's call shape (`log.warn({ fields }, 'message')`), so the
// service's pino logger can be passed in unchanged; on its own the adapter writes the same JSON
// lines to stderr. Never log key material or plaintext: LBAs, names and counts only.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

const LEVELS: Record<LogLevel, number> = { debug: 20, info: 30, warn: 40, error: 50 };

/** Turns errors and bigints into JSON that says something. */
function jsonValue(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { type: value.name, message: value.message, ...(code === undefined ? {} : { code }) };
  }
  return value;
}

/** JSON lines on a stream (stderr by default), pino's field names: level, time, msg. */
export function createJsonLogger(minimum: LogLevel = 'info', write: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  const at = (level: LogLevel) => (fields: object, message: string) => {
    if (LEVELS[level] < LEVELS[minimum]) return;
    write(JSON.stringify({ level: LEVELS[level], time: Date.now(), ...fields, msg: message }, jsonValue) + '\n');
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
