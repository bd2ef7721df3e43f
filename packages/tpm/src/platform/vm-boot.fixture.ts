// Test support for VM measured boot: a good boot log in Sealkeep's vPCR layout (firmware and a
// separator in PCR 0, the configuration in PCR 1, a separator and the kernel in PCR 4, the boot
// volume in PCR 8), with the digests a policy would reference, and raw records to bend.

import { createHash } from 'node:crypto';
import { CelLog, type CelHashAlg, type CelRecord } from './cel.js';

export const H = (alg: string, ...parts: Buffer[]) => parts.reduce((h, p) => h.update(p), createHash(alg)).digest();
export const sha256 = (...parts: Buffer[]) => H('sha256', ...parts);
/** A PCR extended once with `d` from zero (or from `from`). */
export const extendedOnce = (d: Buffer, from = Buffer.alloc(32)) => sha256(from, d);

export interface BootLog {
  log: CelLog;
  /** The per-event digests a policy references: SHA-256 of the configuration bytes, the volume's digest. */
  configuration: Buffer;
  bootVolume: Buffer;
}

/** A good VM boot log; `config` and `volume` vary what PCRs 1 and 8 hold. */
export function goodBootLog(opts: { config?: string; volume?: string } = {}): BootLog {
  const log = new CelLog();
  const ev = (pcr: number, type: Parameters<CelLog['appendEvent']>[1], data: Buffer, digests: Array<[CelHashAlg, Buffer]>) => log.appendEvent(pcr, type, data, digests);
  const ofData = (data: Buffer): Array<[CelHashAlg, Buffer]> => [
    ['sha1', H('sha1', data)],
    ['sha256', sha256(data)],
  ];
  const separator = Buffer.alloc(4);
  const version = Buffer.from('sealkeep-ovmf 2024.05\0', 'utf16le');
  ev(0, 'EV_S_CRTM_VERSION', version, ofData(version));
  ev(0, 'EV_POST_CODE', Buffer.from('firmware volume'), [['sha256', sha256(Buffer.from('firmware image bytes'))]]);
  ev(0, 'EV_SEPARATOR', separator, ofData(separator));
  const config = Buffer.from(opts.config ?? '{"cpus":2,"memoryMiB":4096,"secureBoot":true}');
  ev(1, 'EV_PLATFORM_CONFIG_FLAGS', config, [['sha256', sha256(config)]]);
  ev(4, 'EV_SEPARATOR', separator, ofData(separator));
  ev(4, 'EV_IPL', Buffer.from('kernel vmlinuz-6.1'), [['sha256', sha256(Buffer.from('vmlinuz image'))]]);
  const volume = sha256(Buffer.from(opts.volume ?? 'boot volume blocks'));
  ev(8, 'EV_IPL', Buffer.from('boot-volume 3f2504e0-4f89-11d3-9a0c-0305e82c3301'), [['sha256', volume]]);
  return { log, configuration: sha256(config), bootVolume: volume };
}

/** The records as plain JSON values, for a test to bend. */
export const recordsOf = (log: CelLog): CelRecord[] => JSON.parse(log.serialize()) as CelRecord[];
