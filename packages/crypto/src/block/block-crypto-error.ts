// The one error the block engine throws for a caller's mistake, with a stable code the service
// can map to a problem type. Both implementations throw it before any byte is processed.

export type BlockCryptoErrorCode =
  /** a key of the wrong length */
  | 'KEY_LENGTH'
  /** an AES-XTS key whose two halves are equal (FIPS 140 IG A.9; OpenSSL: ERR_OSSL_XTS_DUPLICATED_KEYS) */
  | 'XTS_DUPLICATED_KEY_HALVES'
  /** a batch that is not whole sectors, mismatched buffers, an LBA or generation out of range… */
  | 'INVALID_ARGUMENT'
  /** a cipher or tagger used after destroy() */
  | 'DESTROYED';

export class BlockCryptoError extends Error {
  constructor(
    readonly code: BlockCryptoErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'BlockCryptoError';
  }
}
