// Hash and HMAC by TPM_ALG id (Part 1 §11.4.2–11.4.3), one-shot and as sequences.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TPM_ALG } from '../wire/constants.js';
import { digest, digestSize, hmac, HashSequence, HmacSequence, isHashAlg } from './hash.js';

describe('hash', () => {
  it('knows the digest sizes and rejects the rest', () => {
    assert.deepEqual(
      [TPM_ALG.SHA1, TPM_ALG.SHA256, TPM_ALG.SHA384, TPM_ALG.SHA512].map(digestSize),
      [20, 32, 48, 64],
    );
    assert.equal(digestSize(TPM_ALG.NULL), 0);
    assert.equal(isHashAlg(TPM_ALG.SM3_256), false);
    assert.throws(() => digest(TPM_ALG.NULL, Buffer.alloc(1)));
  });

  it('SHA-256("abc") (FIPS 180-4 example)', () => {
    assert.equal(digest(TPM_ALG.SHA256, Buffer.from('ab'), Buffer.from('c')).toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('HMAC-SHA256 RFC 4231 test case 2', () => {
    assert.equal(
      hmac(TPM_ALG.SHA256, Buffer.from('Jefe'), Buffer.from('what do ya want '), Buffer.from('for nothing?')).toString('hex'),
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('sequences equal one-shot results', () => {
    const seq = HashSequence.start(TPM_ALG.SHA384).update(Buffer.from('a'));
    assert.deepEqual(seq.peek(), digest(TPM_ALG.SHA384, Buffer.from('a')));
    seq.update(Buffer.from('b'));
    assert.deepEqual(seq.complete(), digest(TPM_ALG.SHA384, Buffer.from('ab')));
    const h = new HmacSequence(TPM_ALG.SHA1, Buffer.from('key')).update(Buffer.from('x'), Buffer.from('y'));
    assert.deepEqual(h.complete(), hmac(TPM_ALG.SHA1, Buffer.from('key'), Buffer.from('xy')));
  });
});
