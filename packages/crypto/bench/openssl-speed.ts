// The benchmarks' reference: `openssl speed`, measured in the same run as the figure beside it.

import { spawnSync } from 'node:child_process';

/** MB/s (10^6 bytes per second) of `openssl speed <args> -bytes <size>` (summed over `multi` processes), or null without openssl. */
export function opensslSpeed(args: string[], size: number, seconds: number, multi = 1): number | null {
  const r = spawnSync('openssl', ['speed', ...args, '-seconds', String(seconds), '-bytes', String(size), ...(multi > 1 ? ['-multi', String(multi)] : [])], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  // The last line: "<algorithm>   <n>k", n in 1000s of bytes per second.
  const last = /\s([\d.]+)k\s*$/.exec(r.stdout.trimEnd());
  return last ? Number(last[1]) / 1000 : null;
}
