// The logger keeps secrets out of the log: objects carrying each kind of secret — credentials in
// headers (any case), an enrollment code, private keys and JWK private members, OAuth tokens, a
// password six levels down, a database URL's password, and errors dragging their request
// configuration and body, under `err` or anywhere else — are logged, and the output holds none of
// the secret bytes, says [Redacted] where they were, and keeps everything else (names, public key
// members, the URL's host, the error's message and code). Cycles and request log lines pass.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { createLogger, REDACTED } from './logging.js';

function capturingLogger() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { log: createLogger('info', destination), output: () => lines.join(''), records: () => lines.map((l) => JSON.parse(l) as Record<string, any>) };
}

const secret = (what: string) => `${what}-${randomBytes(12).toString('hex')}`;

test('every kind of secret is redacted wherever it sits, and the rest is kept', () => {
  const { log, output, records } = capturingLogger();
  const s = {
    proof: secret('proof'),
    cookie: secret('cookie'),
    delegation: secret('delegation'),
    setCookie: secret('setcookie'),
    code: `skenroll_${secret('code')}`,
    nestedCode: `skenroll_${secret('nested')}`,
    jwkD: secret('jwk-d'),
    bareD: secret('bare-d'),
    rsaP: secret('rsa-p'),
    subject: secret('subject'),
    actor: secret('actor'),
    access: secret('access'),
    token: secret('token'),
    password: secret('password'),
    dbPassword: secret('dbpass'),
    envPassword: secret('envpass'),
    capitalised: secret('capitalised'),
    deepest: secret('deepest'),
  };
  log.info({ req: { method: 'POST', headers: { authorization: `Sealkeep-Proof ${s.proof}`, cookie: `session=${s.cookie}`, 'sealkeep-delegation': s.delegation, 'set-cookie': [s.setCookie], accept: 'application/json' } } }, 'headers');
  log.info({ code: s.code }, 'enrollment at the top');
  log.info({ request: { body: { code: s.nestedCode, name: 'alice' } } }, 'enrollment in a body');
  log.info({ principal: { privateJwk: { kty: 'EC', crv: 'P-256', x: 'public-x', y: 'public-y', d: s.jwkD } } }, 'private jwk');
  log.info({ key: { jwk: { kty: 'EC', crv: 'P-256', x: 'public-x2', d: s.bareD } } }, 'jwk with d');
  log.info({ rsa: { jwk: { kty: 'RSA', n: 'public-n', e: 'AQAB', p: s.rsaP } } }, 'rsa jwk');
  log.info({ form: { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: s.subject, actor_token: s.actor } }, 'token exchange');
  log.info({ response: { body: { access_token: s.access, token_type: 'N_A' } } }, 'issued');
  log.info({ token: s.token }, 'bare token');
  log.info({ a: { b: { c: { password: s.password, user: 'svc' } } } }, 'deep password');
  log.info({ store: { kind: 'postgres', url: `postgres://sealkeep:${s.dbPassword}@db.internal:5432/kms` } }, 'store');
  log.info({ DATABASE_URL: `postgres://svc:${s.envPassword}@db2.internal/kms` }, 'env');
  log.info({ upstream: { headers: { Authorization: `Bearer ${s.capitalised}` } } }, 'capitalised header');
  log.info({ l1: { l2: { l3: { l4: { l5: { password: s.deepest, kept: true } } } } } }, 'six levels down');

  const out = output();
  for (const [what, value] of Object.entries(s)) assert.ok(!out.includes(value), `${what} reached the log`);

  const r = records();
  assert.equal(r[0]!.req.headers.authorization, REDACTED);
  assert.equal(r[0]!.req.headers.cookie, REDACTED);
  assert.equal(r[0]!.req.headers['sealkeep-delegation'], REDACTED);
  assert.equal(r[0]!.req.headers['set-cookie'], REDACTED);
  assert.equal(r[0]!.req.headers.accept, 'application/json');
  assert.equal(r[1]!.code, REDACTED);
  assert.deepEqual(r[2]!.request.body, { code: REDACTED, name: 'alice' });
  assert.equal(r[3]!.principal.privateJwk, REDACTED);
  assert.deepEqual(r[4]!.key.jwk, { kty: 'EC', crv: 'P-256', x: 'public-x2', d: REDACTED });
  assert.equal(r[5]!.rsa.jwk.p, REDACTED);
  assert.equal(r[5]!.rsa.jwk.n, 'public-n');
  assert.deepEqual(r[6]!.form, { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: REDACTED, actor_token: REDACTED });
  assert.deepEqual(r[7]!.response.body, { access_token: REDACTED, token_type: 'N_A' });
  assert.equal(r[8]!.token, REDACTED);
  assert.deepEqual(r[9]!.a.b.c, { password: REDACTED, user: 'svc' });
  assert.equal(r[10]!.store.url, `postgres://sealkeep:${encodeURIComponent(REDACTED)}@db.internal:5432/kms`);
  assert.equal(r[11]!.DATABASE_URL, `postgres://svc:${encodeURIComponent(REDACTED)}@db2.internal/kms`);
  assert.equal(r[12]!.upstream.headers.Authorization, REDACTED);
  assert.deepEqual(r[13]!.l1.l2.l3.l4.l5, { password: REDACTED, kept: true });
});

test('a URL without a password is logged as it is', () => {
  const { log, records } = capturingLogger();
  log.info({ store: { url: 'postgres://svc@db.internal/kms' } });
  assert.equal(records()[0]!.store.url, 'postgres://svc@db.internal/kms');
});

test('errors keep message, stack, code and cause, and drop the configuration and bodies they carry', () => {
  const { log, output, records } = capturingLogger();
  const s = { header: secret('header'), body: secret('body'), data: secret('data'), config: secret('config') };
  const upstream = Object.assign(new Error('upstream refused the call'), {
    code: 'ECONNREFUSED',
    config: { url: 'https://idp.example/token', headers: { 'x-custom': s.header }, data: s.config },
    body: s.body,
    response: { status: 502, data: s.data },
  });
  const wrapped = new Error('token exchange failed', { cause: upstream });
  log.error({ err: wrapped, requestId: 'r-1' }, 'internal error');
  log.error(upstream);
  log.warn({ attempt: { n: 2, failure: upstream } }, 'retrying');

  const out = output();
  for (const [what, value] of Object.entries(s)) assert.ok(!out.includes(value), `the error's ${what} reached the log`);
  const [first, second, third] = records();
  assert.equal(first!.err.message, 'token exchange failed');
  assert.match(first!.err.stack, /token exchange failed\n\s+at /);
  assert.equal(first!.err.cause.message, 'upstream refused the call');
  assert.equal(first!.err.cause.errorCode, 'ECONNREFUSED');
  assert.deepEqual(Object.keys(first!.err.cause).sort(), ['errorCode', 'message', 'stack', 'type']);
  assert.equal(first!.requestId, 'r-1');
  assert.equal(second!.err.message, 'upstream refused the call');
  assert.equal(second!.err.type, 'Error');
  assert.equal(second!.err.errorCode, 'ECONNREFUSED');
  assert.deepEqual(Object.keys(third!.attempt.failure).sort(), ['errorCode', 'message', 'stack', 'type']);
});

test('a cycle is logged as [Circular] and the line is still written', () => {
  const { log, records } = capturingLogger();
  const node: Record<string, unknown> = { name: 'a', password: secret('cyclic') };
  node.self = node;
  log.info({ node }, 'cycle');
  assert.deepEqual(records()[0]!.node, { name: 'a', password: REDACTED, self: '[Circular]' });
});

test('request log entries pass through untouched', () => {
  const { log, records } = capturingLogger();
  const entry = { requestId: 'abc', planes: ['tenant'], method: 'GET', route: '/v1/tenants/:tenantId/audit', status: 200, principal: 'tn:alice', ms: 1.5 };
  log.info(entry, 'request');
  const { level: _l, time: _t, pid: _p, hostname: _h, name, msg, ...rest } = records()[0]!;
  assert.equal(name, 'sealkeep-kms');
  assert.equal(msg, 'request');
  assert.deepEqual(rest, entry);
});
