import type { NextFunction, Request, Response } from 'express';
import { problems } from '../http/errors.js';
import type { Operation } from '../openapi/spec.js';
import type { UserRepository } from '../users/repository.js';
import type { TokenService } from './tokens.js';

const BEARER = /^Bearer +([A-Za-z0-9_.~+/-]+=*) *$/i;

/**
 * authLoader verifies a bearer token when one is sent and attaches req.auth; it never answers
 * itself, so public operations still work. A bad token is kept in req.authError for the guards.
 * authInfo gives the account's role and token version as the database has them now (revocation).
 */
export function authLoader(tokens: TokenService, authInfo: (req: Request, userId: number) => ReturnType<UserRepository['authInfo']>) {
  return function loadAuth(req: Request, _res: Response, next: NextFunction): void {
    const header = req.headers.authorization;
    if (header === undefined) return next();
    const match = BEARER.exec(header);
    try {
      if (!match) throw problems.invalidToken('The Authorization header must be "Bearer <token>".');
      const claims = tokens.verify(match[1] as string);
      const current = authInfo(req, claims.userId);
      if (!current || current.token_version !== claims.tokenVersion) throw problems.tokenRevoked();
      req.auth = { userId: claims.userId, role: current.role };
    } catch (error) {
      req.authError = error as Error as NonNullable<Request['authError']>;
    }
    next();
  };
}

/** requireRole answers 401 without a valid token and 403 when the caller's role is not among the operation's roles. */
export function requireRole(operation: Operation) {
  const roles = operation.roles ?? [];
  return function requireRoleMiddleware(req: Request, _res: Response, next: NextFunction): void {
    if (!req.auth) throw req.authError ?? problems.missingToken();
    if (!roles.includes(req.auth.role)) throw problems.forbidden();
    next();
  };
}
