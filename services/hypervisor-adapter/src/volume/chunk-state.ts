// The root a volume state record holds (docs/service.md, "Volume state records"): what binds each
// sector's tag and its generation word together. The tags alone do not: a zeroed or unwritten
// sector's word is in no tag, and a journal record's entry before it could name a sector's tag
// beside another word than the one it was made with. Computed by chunks of the tag file (2^16
// sectors, tag-chunks.ts), all big-endian:
//
//   chunk root   SHA-256(0x01 ‖ RFC 6962 root of its tags ‖ RFC 6962 root of its generation
//                words, four to a 32-byte leaf, the last leaf padded with zeros)
//   volume root  SHA-256("sealkeep volume state 1" ‖ sector count u64 ‖ RFC 6962 root over the
//                chunk roots in order, each a leaf)
//
// A chunk is hashed in slices of a multiple of four sectors, so its roots come out the same
// however it is cut (the native engine hashes each power-of-two run whole).

import { createHash } from 'node:crypto';
import { GENERATION_BYTES, merkleRoot, MerkleRootBuilder, TAG_BYTES, type BlockCryptoEngine } from '@sealkeep/crypto';
import { TAG_ENTRY_BYTES } from './sector-state.js';

const CHUNK_DOMAIN = Buffer.of(0x01);
const VOLUME_DOMAIN = Buffer.from('sealkeep volume state 1', 'latin1');
const WORDS_PER_LEAF = 4;

/** The tags of `count` entries, and their generation words packed four to a 32-byte leaf (zeros after the last), in one pass. */
function splitEntries(entries: Buffer, count: number): { tags: Buffer; words: Buffer } {
  const tags = Buffer.allocUnsafe(count * TAG_BYTES);
  const words = Buffer.alloc(Math.ceil(count / WORDS_PER_LEAF) * 32);
  // 32 bits at a time, as sector-state.ts converts entries: a Buffer copy of a few bytes costs more than the bytes.
  const from = new DataView(entries.buffer, entries.byteOffset, entries.byteLength);
  const toTags = new DataView(tags.buffer, tags.byteOffset, tags.byteLength);
  const toWords = new DataView(words.buffer, words.byteOffset, words.byteLength);
  for (let i = 0; i < count; i++) {
    const at = i * TAG_ENTRY_BYTES;
    toWords.setUint32(i * 8, from.getUint32(at));
    toWords.setUint32(i * 8 + 4, from.getUint32(at + 4));
    for (let j = 0; j < TAG_BYTES; j += 4) toTags.setUint32(i * TAG_BYTES + j, from.getUint32(at + GENERATION_BYTES + j));
  }
  return { tags, words };
}

/** A chunk's root, from its entries appended in order, in slices of a multiple of four sectors (but the last). */
export class ChunkStateBuilder {
  readonly #tags = new MerkleRootBuilder();
  readonly #words = new MerkleRootBuilder();
  readonly #engine: BlockCryptoEngine;

  constructor(engine: BlockCryptoEngine) {
    this.#engine = engine;
  }

  append(entries: Buffer, count: number): this {
    const subtree = (leaves: Uint8Array) => this.#engine.merkleRoot(leaves);
    const { tags, words } = splitEntries(entries, count);
    this.#tags.appendHashed(tags, subtree);
    this.#words.appendHashed(words, subtree);
    return this;
  }

  root(): Buffer {
    return createHash('sha256').update(CHUNK_DOMAIN).update(this.#tags.root()).update(this.#words.root()).digest();
  }
}

/** A chunk's root from all its entries. */
export function chunkStateRoot(entries: Buffer, count: number, engine: BlockCryptoEngine): Buffer {
  return new ChunkStateBuilder(engine).append(entries, count).root();
}

/** The volume's root from its chunks' roots, in order. */
export function volumeStateRoot(sectorCount: number, chunkRoots: readonly Buffer[]): Buffer {
  const count = Buffer.alloc(8);
  count.writeBigUInt64BE(BigInt(sectorCount));
  return createHash('sha256').update(VOLUME_DOMAIN).update(count).update(merkleRoot(Buffer.concat(chunkRoots))).digest();
}
