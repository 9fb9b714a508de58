import type { Request, Response } from 'express';
import { problems } from '../http/errors.js';
import type { OperationHandler } from '../openapi/router.js';
import { ADMIN_ROLE, DEFAULT_ROLE, type Role } from './roles.js';
import { toUser, type UserRepository } from '../users/repository.js';
import type { LoginGuard } from '../rate-limit/login-guard.js';
import type { PasswordHasher } from './passwords.js';
import type { TokenService } from './tokens.js';

interface AuthDeps {
  readonly users: UserRepository;
  readonly tokens: TokenService;
  readonly passwords: PasswordHasher;
  readonly loginGuard: LoginGuard;
  readonly basePath: string;
}

interface RegisterBody {
  username: string;
  email: string;
  password: string;
  role?: Role;
}

/** authHandlers: sign-up, login, the current account, logout and password change. */
export function authHandlers({ users, tokens, passwords, loginGuard, basePath }: AuthDeps): Record<string, OperationHandler> {
  return {
    async registerUser(req: Request, res: Response) {
      const body = req.input.body as RegisterBody;
      const callerIsAdmin = req.auth?.role === ADMIN_ROLE;
      // Nobody grants themselves more than the least role: with more roles than two, every one above it needs an administrator.
      const asksForMore = body.role !== undefined && body.role !== DEFAULT_ROLE;
      // Every refusal that needs no hash comes before bcrypt, whose CPU a refused request must not cost.
      // The transaction below checks both again: it is the final word when sign-ups race.
      if (asksForMore && !callerIsAdmin && users.any()) throw problems.adminRoleForbidden();
      users.assertAvailable(body.username, body.email);
      const passwordHash = await passwords.hash(body.password);
      const row = users.create({ username: body.username, email: body.email, passwordHash }, (isFirstUser) => {
        if (isFirstUser) return ADMIN_ROLE;
        if (asksForMore && !callerIsAdmin) throw problems.adminRoleForbidden();
        return body.role ?? DEFAULT_ROLE;
      });
      res.status(201).location(`${basePath}/users/${row.id}`).json(toUser(row));
    },

    async loginUser(req: Request, res: Response) {
      const { email, password } = req.input.body as { email: string; password: string };
      // A full bcrypt queue refuses before the limiter store is asked (and would have to give the point back).
      passwords.assertCapacity();
      const row = users.findByEmail(email);
      // An unknown email is compared against a dummy hash: same answer, same time.
      const matches = await loginGuard.attempt(email, req.ip ?? 'unknown', () => passwords.verify(password, row?.password_hash));
      if (!matches || !row) throw problems.invalidCredentials();
      const token = tokens.sign({ userId: row.id, role: row.role, tokenVersion: row.token_version });
      res.json({ token, tokenType: 'Bearer', expiresIn: tokens.expiresInSeconds, user: toUser(row) });
    },

    getCurrentUser(req: Request, res: Response) {
      const row = users.findById(req.auth!.userId);
      if (!row) throw problems.tokenRevoked();
      res.json(toUser(row));
    },

    logoutUser(req: Request, res: Response) {
      users.revokeTokens(req.auth!.userId);
      res.status(204).end();
    },

    async changePassword(req: Request, res: Response) {
      const { currentPassword, newPassword } = req.input.body as { currentPassword: string; newPassword: string };
      const row = users.findById(req.auth!.userId);
      if (!row) throw problems.tokenRevoked();
      passwords.assertCapacity();
      // Guessing the current password with a stolen token counts like guessing it at login.
      const matches = await loginGuard.attempt(row.email, req.ip ?? 'unknown', () => passwords.verify(currentPassword, row.password_hash));
      if (!matches) throw problems.wrongPassword();
      users.setPassword(row.id, await passwords.hash(newPassword));
      res.status(204).end();
    },
  };
}
