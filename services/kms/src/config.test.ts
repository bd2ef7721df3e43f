// Configuration from a JSON file and the environment (the environment wins); bad values are one
// clear error; the measured form holds every setting and no store password.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig, measuredConfiguration } from './config.js';
import { testCa } from './tls.fixture.js';

function withFile(content: unknown, fn: (file: string) => void) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-config-'));
  try {
    const file = path.join(dir, 'sealkeep.json');
    writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
    fn(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('defaults: the four planes on 7410–7412 (compliance shares admin), in-process TPM, checkpoints every 100 entries or 60 s', () => {
  const c = loadConfig({});
  assert.deepEqual([c.tenant.port, c.data.port, c.admin.port, c.compliance], [7410, 7411, 7412, null]);
  assert.equal(c.tpm, null);
  assert.deepEqual(c.checkpoint, { entries: 100, seconds: 60 });
});

test('a config file sets listeners, TPM and checkpoints; the environment overrides it', () => {
  withFile({ bind: '0.0.0.0', tenant: { port: 9410 }, compliance: { port: 9413 }, tpm: 'mssim://tpm:2321', checkpoint: { entries: 10 }, logLevel: 'warn' }, (file) => {
    const c = loadConfig({ SEALKEEP_CONFIG: file, SEALKEEP_TENANT_PORT: '9999', SEALKEEP_LOG_LEVEL: 'error' });
    assert.deepEqual(c.tenant, { host: '0.0.0.0', port: 9999 });
    assert.deepEqual(c.compliance, { host: '0.0.0.0', port: 9413 });
    assert.equal(c.tpm, 'mssim://tpm:2321');
    assert.deepEqual(c.checkpoint, { entries: 10, seconds: 60 });
    assert.equal(c.logLevel, 'error');
  });
});

test('bad settings are one clear error each', () => {
  withFile({ tenant: { port: 1 }, colour: 'blue' }, (file) => assert.throws(() => loadConfig({ SEALKEEP_CONFIG: file }), /unknown setting "colour"/));
  withFile('{not json', (file) => assert.throws(() => loadConfig({ SEALKEEP_CONFIG: file }), ConfigError));
  assert.throws(() => loadConfig({ SEALKEEP_CONFIG: '/no/such/file.json' }), /no such file/);
  assert.throws(() => loadConfig({ SEALKEEP_TPM: 'tcp://x' }), /SEALKEEP_TPM: expected mssim:\/\/host:port/);
  assert.throws(() => loadConfig({ SEALKEEP_CHECKPOINT_ENTRIES: '0' }), /SEALKEEP_CHECKPOINT_ENTRIES must be an integer from 1/);
  assert.throws(() => loadConfig({ SEALKEEP_COMPLIANCE_PORT: '7410' }), /never the tenant one/);
  assert.throws(() => loadConfig({ SEALKEEP_DATA_PORT: '7410' }), /each plane needs its own port/);
});

test('the measured configuration names every setting and never the store password', () => {
  const c = loadConfig({ DATABASE_URL: 'postgres://kms:s3cret@db:5432/sealkeep', SEALKEEP_TPM: 'mssim://tpm:2321' });
  const m = measuredConfiguration(c);
  assert.deepEqual(Object.keys(m).sort(), ['checkpoint', 'dataDir', 'hostAttestationSeconds', 'listeners', 'logLevel', 'manufacturerRoots', 'store', 'tls', 'tpm']);
  assert.doesNotMatch(JSON.stringify(m), /s3cret/);
  assert.match(JSON.stringify(m), /db:5432/);
});

test('trusted manufacturer roots come from a directory of PEM files, measured by their SHA-256', async () => {
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-roots-'));
  try {
    writeFileSync(path.join(dir, 'b-vendor.pem'), '-----BEGIN CERTIFICATE-----\nB\n-----END CERTIFICATE-----\n');
    writeFileSync(path.join(dir, 'a-vendor.pem'), '-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n');
    writeFileSync(path.join(dir, 'notes.txt'), 'not a root');
    const c = loadConfig({ SEALKEEP_MANUFACTURER_ROOTS: dir, SEALKEEP_HOST_ATTESTATION_SECONDS: '120' });
    assert.equal(c.hostAttestationSeconds, 120);
    const m = measuredConfiguration(c) as { manufacturerRoots: Array<{ file: string; sha256: string }> };
    assert.deepEqual(m.manufacturerRoots.map((r) => r.file), ['a-vendor.pem', 'b-vendor.pem']);
    assert.match(m.manufacturerRoots[0]!.sha256, /^[0-9a-f]{64}$/);
    assert.throws(() => loadConfig({ SEALKEEP_HOST_ATTESTATION_SECONDS: '5' }), /from 30 to 86400/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('TLS: a certificate and its key from the environment or the file; the files and the identity claimed are measured, not which certificate; a half, wrong or mistyped setting is one clear error that never shows the key', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-config-tls-'));
  try {
    const ca = testCa(dir);
    const [one, other, elsewhere] = [ca.issue('one'), ca.issue('other'), ca.issue('elsewhere', 'DNS:kms.elsewhere.example')];
    assert.equal(loadConfig({}).tls, null);
    assert.equal(measuredConfiguration(loadConfig({})).tls, 'off');
    const env = { SEALKEEP_TLS_CERT: path.join(dir, 'service.pem'), SEALKEEP_TLS_KEY: path.join(dir, 'service.key') };
    const install = (pair: { certFile: string; keyFile: string }) => (copyFileSync(pair.certFile, env.SEALKEEP_TLS_CERT), copyFileSync(pair.keyFile, env.SEALKEEP_TLS_KEY));
    install(one);
    const c = loadConfig(env);
    assert.deepEqual({ ...c.tls }, { certFile: env.SEALKEEP_TLS_CERT, keyFile: env.SEALKEEP_TLS_KEY, from: 'environment', identity: { subjectAltName: 'IP Address:127.0.0.1, DNS:localhost', issuer: 'CN=Sealkeep test CA' }, dataPlane: 'on' });
    assert.deepEqual(measuredConfiguration(c).tls, { certFile: env.SEALKEEP_TLS_CERT, keyFile: env.SEALKEEP_TLS_KEY, subjectAltName: 'IP Address:127.0.0.1, DNS:localhost', issuer: 'CN=Sealkeep test CA', dataPlane: 'on' });
    const dataPlain = loadConfig({ ...env, SEALKEEP_TLS_DATA_PLANE: 'off' });
    assert.equal(dataPlain.tls!.dataPlane, 'off');
    assert.notDeepEqual(measuredConfiguration(dataPlain).tls, measuredConfiguration(c).tls, 'a data plane left plain is measured');
    install(other);
    assert.deepEqual(measuredConfiguration(loadConfig(env)), measuredConfiguration(c), 'a renewal (same names, same issuer) measures the same');
    install(elsewhere);
    assert.notDeepEqual(measuredConfiguration(loadConfig(env)).tls, measuredConfiguration(c).tls, 'another identity does not');
    withFile({ tls: { cert: one.certFile, key: one.keyFile, dataPlane: 'off' } }, (file) => {
      assert.deepEqual({ ...loadConfig({ SEALKEEP_CONFIG: file }).tls }, { certFile: one.certFile, keyFile: one.keyFile, from: 'config file', identity: c.tls!.identity, dataPlane: 'off' });
      assert.equal(loadConfig({ SEALKEEP_CONFIG: file, SEALKEEP_TLS_DATA_PLANE: ' ' }).tls!.dataPlane, 'off', 'a blank variable leaves the file its say');
      assert.equal(loadConfig({ SEALKEEP_CONFIG: file, SEALKEEP_TLS_DATA_PLANE: 'on' }).tls!.dataPlane, 'on', 'the environment wins');
    });

    const refusal = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (e) {
        assert.ok(e instanceof ConfigError, String(e));
        assert.doesNotMatch(e.message, /BEGIN|PRIVATE/);
        return e.message;
      }
      return assert.fail('accepted');
    };
    assert.match(refusal({ SEALKEEP_TLS_CERT: one.certFile }), /needs both SEALKEEP_TLS_CERT and SEALKEEP_TLS_KEY/);
    assert.match(refusal({ SEALKEEP_TLS_KEY: one.keyFile }), /needs both/);
    assert.match(refusal({ SEALKEEP_TLS_CERT: one.certFile, SEALKEEP_TLS_KEY: other.keyFile }), /the key is not the certificate's/);
    assert.match(refusal({ SEALKEEP_TLS_CERT: path.join(dir, 'missing.pem'), SEALKEEP_TLS_KEY: one.keyFile }), /SEALKEEP_TLS_CERT .*missing\.pem: no such file/);
    assert.match(refusal({ SEALKEEP_TLS_CERT: one.keyFile, SEALKEEP_TLS_KEY: one.keyFile }), /no PEM certificate in it/);
    const junk = path.join(dir, 'junk.key');
    writeFileSync(junk, 'not a key');
    assert.match(refusal({ SEALKEEP_TLS_CERT: one.certFile, SEALKEEP_TLS_KEY: junk }), /cannot be loaded/);
    withFile({ tls: { cert: one.certFile, key: other.keyFile } }, (file) => assert.match(refusal({ SEALKEEP_CONFIG: file }), /^tls\.cert .* \/ tls\.key .*: the key is not/));
    withFile({ tls: { certFile: one.certFile, keyFile: one.keyFile } }, (file) => assert.match(refusal({ SEALKEEP_CONFIG: file }), /"tls" takes "cert" and "key", each a file name, and "dataPlane"; not "certFile", "keyFile"/));
    withFile({ tls: { cert: 3, key: one.keyFile } }, (file) => assert.match(refusal({ SEALKEEP_CONFIG: file }), /not "cert"/));
    assert.match(refusal({ ...env, SEALKEEP_TLS_DATA_PLANE: 'plain' }), /SEALKEEP_TLS_DATA_PLANE is "on" \(the default\) or "off", not "plain"/);
    withFile({ tls: { cert: one.certFile, key: one.keyFile, dataPlane: 'no' } }, (file) => assert.match(refusal({ SEALKEEP_CONFIG: file }), /^tls\.dataPlane is "on"/));
    assert.match(refusal({ SEALKEEP_TLS_DATA_PLANE: 'off' }), /SEALKEEP_TLS_DATA_PLANE leaves the data plane out of TLS, and TLS is not on/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
