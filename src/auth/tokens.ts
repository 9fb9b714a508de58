import { createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Config } from '../config.js';
import { problems } from '../http/errors.js';
import { isRole, type Role } from './roles.js';

const VERIFIED_CACHE_SIZE = 10_000;

/** The claims the API puts in a token besides the registered ones. */
export interface TokenClaims {
  readonly userId: number;
  readonly role: Role;
  readonly tokenVersion: number;
}

export interface TokenService {
  readonly expiresInSeconds: number;
  sign(claims: TokenClaims): string;
  /** verify returns the claims of a valid token and throws a 401 AppError otherwise. */
  verify(token: string): TokenClaims;
}

/**
 * createTokenService signs and verifies HS256 tokens with a prepared KeyObject: with a string
 * secret jsonwebtoken would derive a key on every call, which costs more than the whole request.
 */
export function createTokenService(config: Config['jwt']): TokenService {
  const key: KeyObject = createSecretKey(Buffer.from(config.secret, 'utf8'));
  const signOptions: jwt.SignOptions = {
    algorithm: 'HS256',
    expiresIn: config.expiresInSeconds,
    issuer: config.issuer,
    audience: config.audience,
  };
  const verifyOptions: jwt.VerifyOptions & { complete?: false } = {
    algorithms: ['HS256'],
    issuer: config.issuer,
    audience: config.audience,
  };

  // A token is immutable: once its signature and claims have checked out, the same string needs
  // only its expiry checked again. Revocation is not cached (the auth loader asks the database).
  const verified = new Map<string, { claims: TokenClaims; expiresAtMs: number }>();

  return {
    expiresInSeconds: config.expiresInSeconds,
    sign(claims) {
      return jwt.sign({ sub: String(claims.userId), role: claims.role, ver: claims.tokenVersion }, key, signOptions);
    },
    verify(token) {
      const known = verified.get(token);
      if (known) {
        if (Date.now() < known.expiresAtMs) return known.claims;
        verified.delete(token);
        throw problems.tokenExpired();
      }
      let payload: string | jwt.JwtPayload;
      try {
        payload = jwt.verify(token, key, verifyOptions);
      } catch (error) {
        if (error instanceof jwt.TokenExpiredError) throw problems.tokenExpired();
        throw problems.invalidToken();
      }
      if (typeof payload === 'string' || typeof payload.exp !== 'number') throw problems.invalidToken();
      const userId = Number(payload.sub);
      const { role, ver } = payload as { role?: unknown; ver?: unknown };
      if (!Number.isSafeInteger(userId) || userId < 1 || !isRole(role) || !Number.isSafeInteger(ver)) {
        throw problems.invalidToken();
      }
      const claims: TokenClaims = { userId, role, tokenVersion: ver as number };
      if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value as string);
      verified.set(token, { claims, expiresAtMs: payload.exp * 1000 });
      return claims;
    },
  };
}
