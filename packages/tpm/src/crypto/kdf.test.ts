// Known-answer tests for KDFa and KDFe (Part 1 §11.4.10) from test/vectors/tpm-kdf.json.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { TPM_ALG } from '../wire/constants.js';
import { kdfa, kdfe, KdfaStream, terminatedLabel } from './kdf.js';

interface KdfaVector {
  source: string;
  hashAlg: number;
  key: string;
  label: string;
  labelIsHex?: boolean;
  contextU: string;
  contextV: string;
  bits: number;
  result: string;
}
interface KdfeVector {
  source: string;
  hashAlg: number;
  z: string;
  label: string;
  partyUInfo: string;
  partyVInfo: string;
  bits: number;
  result: string;
}

const vectors = JSON.parse(readFileSync(new URL('../../../../test/vectors/tpm-kdf.json', import.meta.url), 'utf8')) as {
  kdfa: KdfaVector[];
  kdfe: KdfeVector[];
};
const hex = (s: string) => Buffer.from(s, 'hex');

describe('KDFa (Part 1 §11.4.10.2)', () => {
  for (const v of vectors.kdfa) {
    it(`${v.source}: ${v.bits} bits`, () => {
      const label = v.labelIsHex ? hex(v.label) : v.label;
      assert.equal(kdfa(v.hashAlg, hex(v.key), label, hex(v.contextU), hex(v.contextV), v.bits).toString('hex'), v.result);
    });
  }

  it('adds the terminating NUL only when the label lacks one', () => {
    const key = Buffer.from('k');
    const withNul = kdfa(TPM_ALG.SHA256, key, Buffer.from('STORAGE\0'), null, null, 256);
    assert.deepEqual(kdfa(TPM_ALG.SHA256, key, 'STORAGE', null, null, 256), withNul);
    assert.deepEqual(terminatedLabel(''), Buffer.of(0));
    assert.deepEqual(terminatedLabel(null), Buffer.of(0));
  });

  it('returns nothing for zero bits', () => {
    assert.equal(kdfa(TPM_ALG.SHA256, Buffer.from('k'), 'X', null, null, 0).length, 0);
  });
});

describe('KDFe (Part 1 §11.4.10.3)', () => {
  for (const v of vectors.kdfe) {
    it(`${v.source}: ${v.bits} bits`, () => {
      assert.equal(kdfe(v.hashAlg, hex(v.z), v.label, hex(v.partyUInfo), hex(v.partyVInfo), v.bits).toString('hex'), v.result);
    });
  }
});

describe('KdfaStream', () => {
  it('starts as KDFa of the first draw and continues the counter', () => {
    const seed = Buffer.alloc(32, 7);
    const s = new KdfaStream(TPM_ALG.SHA256, seed, 'L', Buffer.from('ctx'));
    const first = s.draw(40);
    assert.deepEqual(first, kdfa(TPM_ALG.SHA256, seed, 'L', Buffer.from('ctx'), null, 320));
    const second = s.draw(40);
    const again = new KdfaStream(TPM_ALG.SHA256, seed, 'L', Buffer.from('ctx'));
    assert.deepEqual(again.draw(40), first);
    assert.deepEqual(again.draw(40), second);
    assert.notDeepEqual(second, first);
  });
});
