// SectorCrypto over a block session of the service's data plane (@sealkeep/sdk's BlockSession):
// the volume key never reaches the adapter. Writes go out as one encrypt-sign per run and reads as
// one verify-decrypt per run, the answers written over the request's own buffer (no fresh
// megabytes); the key check uses LBA 0, as the data plane takes only LBAs inside the volume.
//
// A session that ended (410: the host's attestation lapsed, the VM restarted, the key was
// disabled) fails every call with a VolumeError IO naming why — the NBD client sees EIO — and
// nothing of a failed write reaches the journal. Other failures of the data plane (connection
// refused, time-outs) are IO errors of that request alone.

import { IntegrityError, SessionEndedError, type BlockSession } from '@sealkeep/sdk';
import { VolumeError } from './block-volume.js';
import type { SectorCrypto } from './sector-crypto.js';

const view = (b: Uint8Array) => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** The data plane's failure as the volume's: IO (EIO), with the session's end reason when it ended. */
function asVolumeError(error: unknown): never {
  if (error instanceof VolumeError) throw error;
  if (error instanceof SessionEndedError) throw new VolumeError('IO', `the block session ended (${error.reason}): the volume's key is no longer released`, { cause: error });
  throw new VolumeError('IO', `the data plane failed: ${(error as Error).message}`, { cause: error });
}

export class RemoteSectorCrypto implements SectorCrypto {
  readonly keyCheckLba = 0n;
  readonly session: BlockSession;
  /** Settles once close() has ended the session at the service: null, or what failed. */
  closed: Promise<unknown> = Promise.resolve(null);

  constructor(session: BlockSession) {
    this.session = session;
  }

  async encrypt(firstLba: bigint, plaintext: Uint8Array): Promise<Buffer> {
    return this.session.encrypt(firstLba, plaintext, view(plaintext)).catch(asVolumeError);
  }

  async decrypt(firstLba: bigint, ciphertext: Uint8Array): Promise<Buffer> {
    return this.session.decrypt(firstLba, ciphertext, view(ciphertext)).catch(asVolumeError);
  }

  async tag(firstLba: bigint, generations: BigUint64Array, ciphertext: Uint8Array): Promise<Buffer> {
    return this.session.sign(firstLba, generations, ciphertext).catch(asVolumeError);
  }

  async verify(firstLba: bigint, generations: BigUint64Array, ciphertext: Uint8Array, tags: Uint8Array): Promise<bigint[]> {
    try {
      await this.session.verify(firstLba, generations, ciphertext, tags);
      return [];
    } catch (error) {
      if (error instanceof IntegrityError) return error.lbas;
      return asVolumeError(error);
    }
  }

  async encryptAndTag(firstLba: bigint, generations: BigUint64Array, plaintext: Uint8Array): Promise<{ ciphertext: Buffer; tags: Buffer }> {
    return this.session.encryptSign(firstLba, generations, plaintext, view(plaintext)).catch(asVolumeError);
  }

  async verifyAndDecrypt(firstLba: bigint, generations: BigUint64Array, ciphertext: Uint8Array, tags: Uint8Array): Promise<{ plaintext: Buffer } | { failing: bigint[] }> {
    try {
      return { plaintext: await this.session.verifyDecrypt(firstLba, generations, ciphertext, tags, view(ciphertext)) };
    } catch (error) {
      if (error instanceof IntegrityError) return { failing: error.lbas };
      return asVolumeError(error);
    }
  }

  close(): void {
    this.closed = this.session.close().then(
      () => null,
      (error: unknown) => error,
    );
  }
}
