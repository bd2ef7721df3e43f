// The Merkle root of a volume's sector tags, the value a TPM-resident key signs. The tree is
// RFC 6962 §2.1's Merkle Tree Hash with SHA-256, the leaves being the 32-byte tags in LBA order:
//   leaf hash = SHA-256(0x00 || tag)
//   node hash = SHA-256(0x01 || left || right)
//   n > 1 leaves: the left subtree holds the largest power of two < n leaves, the right the rest,
//   so an odd node is never duplicated (the bitcoin-style ambiguity of CVE-2012-2459 cannot arise);
//   no leaves: SHA-256 of the empty string.
// Tags arrive batch by batch, so the root is built incrementally with O(log n) memory.

import { createHash } from 'node:crypto';
import { BlockCryptoError } from './block-crypto-error.js';
import { TAG_BYTES } from './formats.js';

export const MERKLE_LEAF_PREFIX = 0x00;
export const MERKLE_NODE_PREFIX = 0x01;

const LEAF = Buffer.of(MERKLE_LEAF_PREFIX);
const NODE = Buffer.of(MERKLE_NODE_PREFIX);

function leafHash(tag: Uint8Array): Buffer {
  return createHash('sha256').update(LEAF).update(tag).digest();
}

function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(NODE).update(left).update(right).digest();
}

/** Appends tags in LBA order; root() may be read at any point and appending may go on. */
export class MerkleRootBuilder {
  // Roots of complete subtrees, left to right, each twice or more the size of the next
  // (the binary digits of the leaf count): merging equal neighbours keeps it so.
  readonly #subtrees: Array<{ leaves: number; hash: Buffer }> = [];
  #leafCount = 0;

  get leafCount(): number {
    return this.#leafCount;
  }

  /** Appends whole 32-byte tags (any number of them, as the tagger wrote them). */
  append(tags: Uint8Array): this {
    if (!(tags instanceof Uint8Array) || tags.length % TAG_BYTES !== 0) {
      throw new BlockCryptoError('INVALID_ARGUMENT', `tags must be a whole number of ${TAG_BYTES}-byte tags`);
    }
    for (let at = 0; at < tags.length; at += TAG_BYTES) this.#push(1, leafHash(tags.subarray(at, at + TAG_BYTES)));
    return this;
  }

  /**
   * Appends tags as append() does, but hashes them by whole subtrees with `subtreeRoot` (an
   * engine's merkleRoot, native and many times faster): they are cut into the power-of-two runs
   * this tree is made of — each as large as the leaves so far allow (a subtree starts at a
   * multiple of its size) — so the root is the same as append()'s.
   */
  appendHashed(tags: Uint8Array, subtreeRoot: (tags: Uint8Array) => Buffer): this {
    if (!(tags instanceof Uint8Array) || tags.length % TAG_BYTES !== 0) {
      throw new BlockCryptoError('INVALID_ARGUMENT', `tags must be a whole number of ${TAG_BYTES}-byte tags`);
    }
    for (let at = 0, left = tags.length / TAG_BYTES; left > 0; ) {
      // The largest power of two no more than what is left that the count so far is a multiple
      // of: a subtree starts at a multiple of its size (plain arithmetic, not 32-bit bitwise: a
      // volume may have more than 2^31 sectors).
      let leaves = 1;
      while (leaves * 2 <= left && this.#leafCount % (leaves * 2) === 0) leaves *= 2;
      this.#push(leaves, subtreeRoot(tags.subarray(at, at + leaves * TAG_BYTES)));
      at += leaves * TAG_BYTES;
      left -= leaves;
    }
    return this;
  }

  /**
   * Appends a complete subtree of `leaves` tags by its root, hashed earlier or elsewhere: `leaves`
   * a power of two, the count so far a multiple of it (where such a subtree starts in the tree).
   * The same root as appending its tags.
   */
  appendSubtree(leaves: number, hash: Uint8Array): this {
    if (!Number.isSafeInteger(leaves) || leaves < 1 || 2 ** Math.round(Math.log2(leaves)) !== leaves) {
      throw new BlockCryptoError('INVALID_ARGUMENT', `a subtree holds a power of two of leaves, not ${leaves}`);
    }
    if (this.#leafCount % leaves !== 0) {
      throw new BlockCryptoError('INVALID_ARGUMENT', `a subtree of ${leaves} leaves cannot start after ${this.#leafCount}`);
    }
    if (!(hash instanceof Uint8Array) || hash.length !== 32) throw new BlockCryptoError('INVALID_ARGUMENT', 'a subtree root is 32 bytes');
    return this.#push(leaves, Buffer.from(hash));
  }

  /** A complete subtree onto the stack, joined with equal neighbours. */
  #push(leaves: number, hash: Buffer): this {
    const stack = this.#subtrees;
    let top = { leaves, hash };
    while (stack.length > 0 && stack[stack.length - 1]!.leaves === top.leaves) {
      const below = stack.pop()!;
      top = { leaves: below.leaves * 2, hash: nodeHash(below.hash, top.hash) };
    }
    stack.push(top);
    this.#leafCount += leaves;
    return this;
  }

  /** The RFC 6962 root of every tag appended so far. */
  root(): Buffer {
    const stack = this.#subtrees;
    if (stack.length === 0) return createHash('sha256').digest();
    // The rightmost, smallest subtrees join first: that is the "largest power of two" split.
    let hash = stack[stack.length - 1]!.hash;
    for (let i = stack.length - 2; i >= 0; i--) hash = nodeHash(stack[i]!.hash, hash);
    return Buffer.from(hash);
  }
}

/** The Merkle root of a volume's tags, concatenated in LBA order. */
export function merkleRoot(tags: Uint8Array): Buffer {
  return new MerkleRootBuilder().append(tags).root();
}
