// The data plane's block operations and their binary layouts, computed over one volume's opened
// cipher and tagger. Used inside the block workers (block-worker.ts); nothing here touches a
// key's bytes. Every layout is whole sectors from a starting LBA; N = sectors in the batch,
// S = the volume's sector size, generations are u64 big-endian, tags 32 bytes per sector
// (packages/crypto/src/block/README.md has the tag and XTS formats).
//
//   op              request body                           answer
//   encrypt         plaintext (N·S)                        ciphertext (N·S)
//   encrypt-sign    generations (8·N) ‖ plaintext (N·S)    ciphertext (N·S) ‖ tags (32·N)
//   sign            generations ‖ ciphertext               tags
//   verify          generations ‖ ciphertext ‖ tags        nothing (or the failing LBAs)
//   decrypt         ciphertext                             plaintext
//   verify-decrypt  generations ‖ ciphertext ‖ tags        plaintext (or the failing LBAs)

import { BLOCK_OPS, GENERATION_BYTES, TAG_BYTES, decodeGenerations, type BlockOp, type SectorCipher, type SectorTagger } from '@sealkeep/crypto';

export { BLOCK_OPS, type BlockOp };

/** Bytes per sector of each op's request body: the sector itself, plus its generation and tag where the op takes them. */
export function requestBytesPerSector(op: BlockOp, sectorSize: number): number {
  switch (op) {
    case 'encrypt':
    case 'decrypt':
      return sectorSize;
    case 'encrypt-sign':
    case 'sign':
      return GENERATION_BYTES + sectorSize;
    case 'verify':
    case 'verify-decrypt':
      return GENERATION_BYTES + sectorSize + TAG_BYTES;
  }
}

/** Ops that read tags, and so check integrity before anything else happens. */
export const takesTags = (op: BlockOp) => op === 'verify' || op === 'verify-decrypt';

export interface OpenedVolume {
  cipher: SectorCipher;
  tagger: SectorTagger;
  sectorSize: number;
}

export type BlockResult = { ok: true; data: Uint8Array } | { ok: false; failedLbas: bigint[] };

/** Big-endian u64 generations as the tagger wants them (one value per sector). */
function generationsOf(body: Uint8Array, count: number): BigUint64Array {
  return decodeGenerations(body.subarray(0, count * GENERATION_BYTES));
}

/**
 * Run one op over a batch. The body has been checked to be a whole number of sectors in the
 * op's layout (requestBytesPerSector). Sectors are transformed in place in the body (fresh
 * megabyte buffers cost more in page faults than the cipher does), so the answer is a view of the
 * body. Encrypt-sign's answer is larger than its request: it is written in place too when the
 * body's ArrayBuffer has `room` bytes after the body that belong to this batch, into a new
 * buffer otherwise.
 */
export function runBlockOp(volume: OpenedVolume, op: BlockOp, firstLba: bigint, body: Uint8Array, room = 0): BlockResult {
  const S = volume.sectorSize;
  const count = body.length / requestBytesPerSector(op, S);
  const gensEnd = op === 'encrypt' || op === 'decrypt' ? 0 : count * GENERATION_BYTES;
  const sectors = body.subarray(gensEnd, gensEnd + count * S);
  switch (op) {
    case 'encrypt':
      volume.cipher.encrypt(firstLba, sectors, sectors);
      return { ok: true, data: sectors };
    case 'decrypt':
      volume.cipher.decrypt(firstLba, sectors, sectors);
      return { ok: true, data: sectors };
    case 'encrypt-sign': {
      const answerBytes = count * (S + TAG_BYTES);
      // In place: the ciphertext over the plaintext, the tags after it (past the body's end, into its room).
      const inPlace = body.length + room >= gensEnd + answerBytes;
      const out = inPlace ? new Uint8Array(body.buffer, body.byteOffset + gensEnd, answerBytes) : new Uint8Array(answerBytes);
      const ciphertext = out.subarray(0, count * S);
      volume.cipher.encrypt(firstLba, sectors, ciphertext);
      volume.tagger.tag(firstLba, generationsOf(body, count), ciphertext, out.subarray(count * S));
      return { ok: true, data: out };
    }
    case 'sign': {
      const out = new Uint8Array(count * TAG_BYTES);
      volume.tagger.tag(firstLba, generationsOf(body, count), sectors, out);
      return { ok: true, data: out };
    }
    case 'verify':
    case 'verify-decrypt': {
      const tags = body.subarray(gensEnd + count * S);
      const failedLbas = volume.tagger.verify(firstLba, generationsOf(body, count), sectors, tags);
      if (failedLbas.length) return { ok: false, failedLbas };
      if (op === 'verify') return { ok: true, data: new Uint8Array(0) };
      volume.cipher.decrypt(firstLba, sectors, sectors);
      return { ok: true, data: sectors };
    }
  }
}
