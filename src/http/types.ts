import type { AppError } from './errors.js';
import type { JsonInterceptor } from './json-response.js';
import type { Role } from '../auth/roles.js';
import type { Operation } from '../openapi/spec.js';

/** Who is calling, as the auth loader established it. */
export interface Auth {
  readonly userId: number;
  readonly role: Role;
}

/** The validated parts of a request: handlers read only these. */
export interface Input {
  readonly path: Record<string, unknown>;
  readonly query: Record<string, unknown>;
  readonly body: unknown;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      id: string;
      startedAt: bigint;
      auth?: Auth;
      authError?: AppError;
      operation?: Operation;
      input: Input;
      /** The database's change tick when this request first read a kept fact (see db/change-clock.ts). */
      dbTick?: number | null;
    }
    interface Response {
      /** Set for one response: res.json hands it the body instead of writing it (see sendJson). */
      interceptJson?: JsonInterceptor | undefined;
    }
  }
}
