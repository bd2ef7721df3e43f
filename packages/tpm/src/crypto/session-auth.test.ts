// Session key, cpHash/rpHash and command/response HMACs (Part 1 §18–19), and parameter
// encryption (Part 1 §21), checked against their definitions written out term by term.

import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { TPM_ALG } from '../wire/constants.js';
import { kdfa } from './kdf.js';
import { cfbDecryptParameter, cfbEncryptParameter, xorObfuscate } from './parameter-encryption.js';
import { commandHmac, cpHash, responseHmac, rpHash, sessionKey } from './session-auth.js';
import { cfbEncrypt } from './symmetric.js';

const nonceTpm = randomBytes(32);
const nonceCaller = randomBytes(32);

describe('session key (Part 1 §19.6.8)', () => {
  it('is empty for an unbound, unsalted session', () => {
    assert.equal(sessionKey({ hashAlg: TPM_ALG.SHA256, bindAuth: Buffer.alloc(0), salt: Buffer.alloc(0), nonceTpm, nonceCaller }).length, 0);
  });
  it('is KDFa(authHash, bindAuth || salt, "ATH", nonceTPM, nonceCaller, digestBits)', () => {
    const bindAuth = Buffer.from('pw');
    const salt = randomBytes(32);
    const expected = kdfa(TPM_ALG.SHA1, Buffer.concat([bindAuth, salt]), 'ATH', nonceTpm, nonceCaller, 160);
    assert.deepEqual(sessionKey({ hashAlg: TPM_ALG.SHA1, bindAuth, salt, nonceTpm, nonceCaller }), expected);
  });
});

describe('cpHash, rpHash and HMACs (Part 1 §18.7–18.8, §19.6.5)', () => {
  it('hash the command code, names and parameters', () => {
    const names = [Buffer.of(0x40, 0, 0, 1), Buffer.from('000b' + 'aa'.repeat(32), 'hex')];
    const params = Buffer.from('params');
    const cp = cpHash(TPM_ALG.SHA256, 0x153, names, params);
    assert.deepEqual(cp, createHash('sha256').update(Buffer.from('00000153', 'hex')).update(names[0]!).update(names[1]!).update(params).digest());
    const rp = rpHash(TPM_ALG.SHA256, 0, 0x153, params);
    assert.deepEqual(rp, createHash('sha256').update(Buffer.from('0000000000000153', 'hex')).update(params).digest());
  });

  it('command and response HMACs take their terms in order', () => {
    const key = randomBytes(32);
    const auth = Buffer.from('auth');
    const cp = randomBytes(32);
    const dec = randomBytes(16);
    const expected = createHmac('sha256', Buffer.concat([key, auth])).update(Buffer.concat([cp, nonceCaller, nonceTpm, dec, Buffer.of(0x21)])).digest();
    const got = commandHmac({ hashAlg: TPM_ALG.SHA256, sessionKey: key, authValue: auth, cpHash: cp, nonceCaller, nonceTpm, nonceTpmDecrypt: dec, sessionAttributes: 0x21 });
    assert.deepEqual(got, expected);
    const rexpected = createHmac('sha256', Buffer.concat([key, auth])).update(Buffer.concat([cp, nonceTpm, nonceCaller, Buffer.of(0x01)])).digest();
    assert.deepEqual(responseHmac({ hashAlg: TPM_ALG.SHA256, sessionKey: key, authValue: auth, rpHash: cp, nonceTpm, nonceCaller, sessionAttributes: 0x01 }), rexpected);
  });
});

describe('parameter encryption (Part 1 §21)', () => {
  const p = { hashAlg: TPM_ALG.SHA256, key: randomBytes(40), nonceNewer: nonceCaller, nonceOlder: nonceTpm };
  const data = Buffer.from('a secret parameter, not block aligned');

  it('XOR obfuscation is its own inverse and uses the "XOR" KDFa mask', () => {
    const once = xorObfuscate(p, data);
    const mask = kdfa(TPM_ALG.SHA256, p.key, 'XOR', nonceCaller, nonceTpm, data.length * 8);
    assert.deepEqual(once, Buffer.from(data.map((b, i) => b ^ mask[i]!)));
    assert.deepEqual(xorObfuscate(p, once), data);
  });

  it('CFB takes key and IV from KDFa(..., "CFB", nonceNewer, nonceOlder, keyBits + 128)', () => {
    const material = kdfa(TPM_ALG.SHA256, p.key, 'CFB', nonceCaller, nonceTpm, 128 + 128);
    const enc = cfbEncryptParameter(p, TPM_ALG.AES, 128, data);
    assert.deepEqual(enc, cfbEncrypt(material.subarray(0, 16), data, material.subarray(16)));
    assert.deepEqual(cfbDecryptParameter(p, TPM_ALG.AES, 128, enc), data);
  });
});
