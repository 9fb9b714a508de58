import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from '../test-support/app.js';
import { createTokenService } from './tokens.js';

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const inTenMinutes = () => Math.floor(Date.now() / 1000) + 600;

interface Issuer {
  readonly secret: string;
  readonly iss: string;
  readonly aud: string;
  readonly claims: Record<string, unknown>;
}

/** forged lists the tokens an attacker or a buggy issuer could present; issuer() is read when a token is made. */
function forged(issuer: () => Issuer): Array<[string, () => string, string]> {
  const proper = (i: Issuer): jwt.SignOptions => ({ expiresIn: 600, issuer: i.iss, audience: i.aud });
  // Signed as the API signs, with the right secret: only what payload and options change is wrong.
  const hs256 = (payload: (i: Issuer) => object, options = proper) => () => {
    const i = issuer();
    return jwt.sign(payload(i), i.secret, { algorithm: 'HS256', ...options(i) });
  };
  const unsignedPart = (i: Issuer, alg: string) => `${b64({ alg, typ: 'JWT' })}.${b64({ ...i.claims, exp: inTenMinutes(), iss: i.iss, aud: i.aud })}`;
  return [
    ['alg none', () => `${unsignedPart(issuer(), 'none')}.`, 'invalid_token'],
    [
      'HS512 with the right secret',
      () => {
        const i = issuer();
        return jwt.sign(i.claims, i.secret, { algorithm: 'HS512', expiresIn: 600, issuer: i.iss, audience: i.aud });
      },
      'invalid_token',
    ],
    [
      'an RS256 header over an HMAC signature',
      () => {
        const i = issuer();
        const signed = unsignedPart(i, 'RS256');
        return `${signed}.${createHmac('sha256', i.secret).update(signed).digest('base64url')}`;
      },
      'invalid_token',
    ],
    [
      'a tampered payload',
      () => {
        const i = issuer();
        const [head, , signature] = hs256((x) => x.claims)().split('.');
        return `${head}.${b64({ ...i.claims, sub: '999', exp: inTenMinutes(), iss: i.iss, aud: i.aud })}.${signature}`;
      },
      'invalid_token',
    ],
    [
      'a tampered signature',
      () => {
        const token = hs256((x) => x.claims)();
        return `${token.slice(0, -3)}${token.endsWith('AAA') ? 'BBB' : 'AAA'}`;
      },
      'invalid_token',
    ],
    ['an expired token', hs256((i) => ({ ...i.claims, exp: Math.floor(Date.now() / 1000) - 60 }), (i) => ({ issuer: i.iss, audience: i.aud })), 'token_expired'],
    ['a token without exp', hs256((i) => i.claims, (i) => ({ issuer: i.iss, audience: i.aud })), 'invalid_token'],
    ['the wrong audience', hs256((i) => i.claims, (i) => ({ expiresIn: 600, issuer: i.iss, audience: 'elsewhere' })), 'invalid_token'],
    ['the wrong issuer', hs256((i) => i.claims, (i) => ({ expiresIn: 600, issuer: 'elsewhere', audience: i.aud })), 'invalid_token'],
    [
      'another secret',
      () => {
        const i = issuer();
        return jwt.sign(i.claims, 'x'.repeat(40), { algorithm: 'HS256', expiresIn: 600, issuer: i.iss, audience: i.aud });
      },
      'invalid_token',
    ],
    ['a role that does not exist', hs256((i) => ({ ...i.claims, role: 'root' })), 'invalid_token'],
    ['a subject that is not an account id', hs256((i) => ({ ...i.claims, sub: 'admin' })), 'invalid_token'],
    ['garbage', () => 'not.a.jwt', 'invalid_token'],
  ];
}

describe('bearer tokens', () => {
  let app: TestApp;
  let account: { id: number; token: string };
  let secret: string;
  const claims = () => ({ sub: String(account.id), role: 'admin', ver: 0 });
  const sign = (payload: object) => jwt.sign(payload, secret, { algorithm: 'HS256', expiresIn: 600, issuer: 'backend-api', audience: 'backend-api' });
  const me = (authorization: string) => app.api.get('/api/v1/auth/me', { headers: { authorization } });

  before(async () => {
    app = await startTestApp();
    account = await app.api.signUp('user');
    secret = app.config.jwt.secret;
  });
  after(() => app.close());

  /** expectRefused checks a 401 with the code and the WWW-Authenticate challenge, and that no handler ran. */
  async function expectRefused(authorization: string, code: string) {
    const handled = app.handled.length;
    const response = await me(authorization);
    assert.equal(response.status, 401);
    assert.equal(response.body.code, code);
    assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer realm="backend-api", error="invalid_token"/);
    assert.equal(app.handled.length, handled, 'the handler did not run');
  }

  test('a valid token works', async () => {
    assert.equal((await me(`Bearer ${account.token}`)).status, 200);
    assert.equal((await me(`bearer ${account.token}`)).status, 200, 'the scheme is case-insensitive');
    assert.equal(jwt.decode(account.token, { complete: true })?.header.alg, 'HS256');
  });

  test('no Authorization at all is 401 missing_token', async () => {
    const response = await app.api.get('/api/v1/auth/me');
    assert.equal(response.body.code, 'missing_token');
    assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer .*error="invalid_token"/);
  });

  const malformedHeaders: Array<[string, string]> = [
    ['another scheme', 'Basic dXNlcjpwYXNz'],
    ['a bearer header without a token', 'Bearer'],
    ['a bearer header with an empty token', 'Bearer '],
    ['two tokens', 'Bearer a.b.c d.e.f'],
  ];
  for (const [name, header] of malformedHeaders) {
    test(`${name} is 401 invalid_token`, () => expectRefused(header, 'invalid_token'));
  }

  for (const [name, token, code] of forged(() => ({ secret, iss: 'backend-api', aud: 'backend-api', claims: claims() }))) {
    test(`${name} is 401 ${code}`, () => expectRefused(`Bearer ${token()}`, code));
  }

  test('a token of an unknown account is 401 token_revoked', () => expectRefused(`Bearer ${sign({ ...claims(), sub: '424242' })}`, 'token_revoked'));

  test('a token of an older version (revoked) is 401 token_revoked', () => expectRefused(`Bearer ${sign({ ...claims(), ver: 7 })}`, 'token_revoked'));

  test("the role in a token is not trusted: the account's stored role decides", async () => {
    const user = await app.api.signUp('user');
    const claimsAdmin = sign({ sub: String(user.id), role: 'admin', ver: 0 });
    assert.equal((await app.api.get('/api/v1/auth/me', { token: claimsAdmin })).body.role, 'user');
    const handled = app.handled.length;
    const refused = await app.api.post('/api/v1/tasks', { token: claimsAdmin, json: { title: 'escalated' } });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.code, 'forbidden');
    assert.equal(app.handled.length, handled);
  });
});

describe('createTokenService', () => {
  const config = { secret: 's'.repeat(40), secretSource: 'env' as const, expiresInSeconds: 60, issuer: 'me', audience: 'you' };
  const claims = { userId: 7, role: 'user' as const, tokenVersion: 3 };

  test('verifies what it signed: HS256, with the configured lifetime', () => {
    const service = createTokenService(config);
    const token = service.sign(claims);
    assert.deepEqual(service.verify(token), claims);
    assert.deepEqual(service.verify(token), claims, 'and again, from its cache');
    const decoded = jwt.decode(token, { complete: true })!;
    assert.equal(decoded.header.alg, 'HS256');
    const payload = decoded.payload as jwt.JwtPayload;
    assert.equal(payload.exp! - payload.iat!, 60);
    assert.equal(payload.iss, 'me');
    assert.equal(payload.aud, 'you');
  });

  for (const [name, token, code] of forged(() => ({ secret: config.secret, iss: config.issuer, aud: config.audience, claims: { sub: '7', role: 'user', ver: 3 } }))) {
    test(`rejects ${name} with ${code}`, () => {
      assert.throws(() => createTokenService(config).verify(token()), { status: 401, code });
    });
  }

  test('a token verified once still expires (the cache checks exp)', (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const service = createTokenService(config);
    const token = service.sign(claims);
    assert.deepEqual(service.verify(token), claims);
    t.mock.timers.tick(61_000);
    assert.throws(() => service.verify(token), { code: 'token_expired' });
    assert.throws(() => service.verify(token), { code: 'token_expired' }, 'and after it left the cache');
  });
});
