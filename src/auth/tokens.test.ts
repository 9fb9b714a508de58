import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from '../test-support/app.js';
import { createTokenService } from './tokens.js';

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('bearer tokens', () => {
  let app: TestApp;
  let account: { id: number; token: string };
  let secret: string;
  const claims = () => ({ sub: String(account.id), role: 'admin', ver: 0 });
  const options = { issuer: 'backend-api', audience: 'backend-api' };
  const me = (authorization: string) => app.api.get('/api/v1/auth/me', { headers: { authorization } });

  before(async () => {
    app = await startTestApp();
    account = await app.api.signUp('user');
    secret = app.config.jwt.secret;
  });
  after(() => app.close());

  test('a valid token works', async () => {
    assert.equal((await me(`Bearer ${account.token}`)).status, 200);
    assert.equal((await me(`bearer ${account.token}`)).status, 200, 'the scheme is case-insensitive');
  });

  const refused: Array<[string, () => string, string]> = [
    ['a malformed Authorization header', () => 'Basic dXNlcjpwYXNz', 'invalid_token'],
    ['a bearer header without a token', () => 'Bearer', 'invalid_token'],
    ['garbage', () => 'Bearer not.a.jwt', 'invalid_token'],
    ['a tampered payload', () => {
      const [h, , s] = account.token.split('.');
      return `Bearer ${h}.${b64({ ...claims(), sub: '999' })}.${s}`;
    }, 'invalid_token'],
    ['a tampered signature', () => `Bearer ${account.token.slice(0, -3)}${account.token.endsWith('AAA') ? 'BBB' : 'AAA'}`, 'invalid_token'],
    ['alg none', () => `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims(), exp: Math.floor(Date.now() / 1000) + 600, ...options, aud: 'backend-api', iss: 'backend-api' })}.`, 'invalid_token'],
    ['HS512 with the right secret', () => `Bearer ${jwt.sign(claims(), secret, { algorithm: 'HS512', expiresIn: 600, ...options })}`, 'invalid_token'],
    ['an RS256 header over an HMAC signature', () => {
      const head = b64({ alg: 'RS256', typ: 'JWT' });
      const body = b64({ ...claims(), exp: Math.floor(Date.now() / 1000) + 600, iss: 'backend-api', aud: 'backend-api' });
      return `Bearer ${head}.${body}.${createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url')}`;
    }, 'invalid_token'],
    ['an expired token', () => `Bearer ${jwt.sign({ ...claims(), exp: Math.floor(Date.now() / 1000) - 60 }, secret, { algorithm: 'HS256', ...options })}`, 'token_expired'],
    ['a token without exp', () => `Bearer ${jwt.sign(claims(), secret, { algorithm: 'HS256', ...options })}`, 'invalid_token'],
    ['the wrong audience', () => `Bearer ${jwt.sign(claims(), secret, { algorithm: 'HS256', expiresIn: 600, issuer: 'backend-api', audience: 'elsewhere' })}`, 'invalid_token'],
    ['the wrong issuer', () => `Bearer ${jwt.sign(claims(), secret, { algorithm: 'HS256', expiresIn: 600, issuer: 'elsewhere', audience: 'backend-api' })}`, 'invalid_token'],
    ['another secret', () => `Bearer ${jwt.sign(claims(), 'x'.repeat(40), { algorithm: 'HS256', expiresIn: 600, ...options })}`, 'invalid_token'],
    ['an unknown account', () => `Bearer ${jwt.sign({ ...claims(), sub: '424242' }, secret, { algorithm: 'HS256', expiresIn: 600, ...options })}`, 'token_revoked'],
    ['an old token version', () => `Bearer ${jwt.sign({ ...claims(), ver: 7 }, secret, { algorithm: 'HS256', expiresIn: 600, ...options })}`, 'token_revoked'],
  ];

  for (const [name, header, code] of refused) {
    test(`${name} is 401 ${code} with WWW-Authenticate`, async () => {
      const response = await me(header());
      assert.equal(response.status, 401);
      assert.equal(response.body.code, code);
      assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer realm="backend-api", error="invalid_token"/);
    });
  }

  test('no Authorization at all is 401 missing_token', async () => {
    const response = await app.api.get('/api/v1/auth/me');
    assert.equal(response.body.code, 'missing_token');
    assert.match(response.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
  });
});

describe('createTokenService', () => {
  const config = { secret: 's'.repeat(40), secretSource: 'env' as const, expiresInSeconds: 60, issuer: 'me', audience: 'you' };

  test('verifies what it signed, and rejects another service’s tokens', () => {
    const service = createTokenService(config);
    const token = service.sign({ userId: 7, role: 'user', tokenVersion: 3 });
    assert.deepEqual(service.verify(token), { userId: 7, role: 'user', tokenVersion: 3 });
    assert.deepEqual(service.verify(token), { userId: 7, role: 'user', tokenVersion: 3 }, 'and again, from its cache');
    const stranger = createTokenService({ ...config, audience: 'someone-else' }).sign({ userId: 7, role: 'user', tokenVersion: 3 });
    assert.throws(() => service.verify(stranger), { code: 'invalid_token' });
    const decoded = jwt.decode(token) as Record<string, unknown>;
    assert.equal((decoded.exp as number) - (decoded.iat as number), 60);
    assert.equal(jwt.decode(token, { complete: true })?.header.alg, 'HS256');
  });
});
