/* merkle_root: the RFC 6962 Merkle Tree Hash (SHA-256) of a volume's 32-byte sector tags, the
 * value the service TPM signs in a volume attestation. Same definition as
 * packages/crypto/src/block/merkle-root.ts, which is the reference: leaf = SHA-256(0x00 || tag),
 * node = SHA-256(0x01 || left || right), built bottom-up, an odd last node carried up a level
 * unchanged (the same tree as RFC 6962's "largest power of two" split). */
#ifndef SEALKEEP_MERKLE_ROOT_H
#define SEALKEEP_MERKLE_ROOT_H

#include <stddef.h>
#include <stdint.h>

/* Writes the root of `count` tags (count × 32 bytes) to root[32]; 1 on success, 0 with *error set. */
int merkle_root(const uint8_t *tags, size_t count, uint8_t root[32], const char **error);

#endif
