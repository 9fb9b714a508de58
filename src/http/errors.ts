/** One problem found by request validation: where it is and what is wrong. */
export interface FieldProblem {
  readonly in: 'body' | 'query' | 'path' | 'header';
  readonly pointer: string;
  readonly message: string;
}

interface AppErrorOptions {
  readonly errors?: readonly FieldProblem[];
  readonly headers?: Readonly<Record<string, string>>;
  readonly cause?: unknown;
}

/**
 * AppError is the one error type handlers throw: an HTTP status, a stable snake_case
 * code, a detail safe to show a client, and a private cause that only reaches the log.
 */
export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly detail: string;
  readonly errors: readonly FieldProblem[] | undefined;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, code: string, title: string, detail: string, options: AppErrorOptions = {}) {
    super(detail, { cause: options.cause });
    this.name = 'AppError';
    this.status = status;
    this.code = code;
    this.title = title;
    this.detail = detail;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
  }
}

const BEARER_INVALID = 'Bearer realm="backend-api", error="invalid_token"';

/** The error catalogue: every code a client can see is made here. */
export const problems = {
  validation: (errors: readonly FieldProblem[]) =>
    new AppError(400, 'validation_failed', 'Request validation failed', `The request has ${errors.length} problem(s); see errors.`, { errors }),
  invalidJson: (cause?: unknown) =>
    new AppError(400, 'invalid_json', 'Malformed JSON', 'The request body is not valid JSON.', { cause }),
  invalidPath: () => new AppError(400, 'invalid_path', 'Invalid path', 'The path has a malformed %-escape.'),
  invalidCursor: () =>
    new AppError(400, 'invalid_cursor', 'Invalid cursor', 'The cursor is malformed or was issued for another sort order.'),
  missingToken: () =>
    new AppError(401, 'missing_token', 'Authentication required', 'This operation needs a bearer token.', { headers: { 'WWW-Authenticate': BEARER_INVALID } }),
  invalidToken: (detail = 'The bearer token is invalid.') =>
    new AppError(401, 'invalid_token', 'Invalid token', detail, { headers: { 'WWW-Authenticate': BEARER_INVALID } }),
  tokenExpired: () =>
    new AppError(401, 'token_expired', 'Token expired', 'The bearer token has expired; log in again.', {
      headers: { 'WWW-Authenticate': 'Bearer realm="backend-api", error="invalid_token", error_description="token expired"' },
    }),
  tokenRevoked: () =>
    new AppError(401, 'token_revoked', 'Token revoked', 'The bearer token was revoked; log in again.', { headers: { 'WWW-Authenticate': BEARER_INVALID } }),
  invalidCredentials: () =>
    new AppError(401, 'invalid_credentials', 'Invalid credentials', 'The email or password is wrong.'),
  wrongPassword: () =>
    new AppError(403, 'wrong_password', 'Wrong password', 'The current password is wrong.'),
  forbidden: (detail = 'Your role does not allow this operation.') =>
    new AppError(403, 'forbidden', 'Forbidden', detail),
  adminRoleForbidden: () =>
    new AppError(403, 'admin_role_forbidden', 'Forbidden', 'Only an administrator can create another administrator.'),
  notFound: (what = 'resource') =>
    new AppError(404, 'not_found', 'Not found', `The ${what} does not exist.`),
  routeNotFound: () =>
    new AppError(404, 'route_not_found', 'Not found', 'No operation of this API matches the path.'),
  methodNotAllowed: (allow: readonly string[]) =>
    new AppError(405, 'method_not_allowed', 'Method not allowed', `Allowed methods: ${allow.join(', ')}.`, { headers: { Allow: allow.join(', ') } }),
  conflict: (code: string, detail: string) => new AppError(409, code, 'Conflict', detail),
  payloadTooLarge: (limit: number) =>
    new AppError(413, 'payload_too_large', 'Payload too large', `The request body is larger than ${limit} bytes.`),
  headersTooLarge: () =>
    new AppError(431, 'headers_too_large', 'Request header fields too large', 'The request line and headers are larger than the server accepts.'),
  requestTimeout: () => new AppError(408, 'request_timeout', 'Request timeout', 'The request did not arrive in time.'),
  badRequest: (cause?: unknown) => new AppError(400, 'bad_request', 'Bad request', 'The request is malformed.', { cause }),
  unsupportedMediaType: () =>
    new AppError(415, 'unsupported_media_type', 'Unsupported media type', 'Send the body as application/json (UTF-8).'),
  rateLimited: (retryAfterSeconds: number, headers: Record<string, string> = {}) =>
    new AppError(429, 'rate_limited', 'Too many requests', `Too many requests; retry after ${retryAfterSeconds} s.`, {
      headers: { ...headers, 'Retry-After': String(retryAfterSeconds) },
    }),
  idempotencyKeyReused: () =>
    new AppError(422, 'idempotency_key_reused', 'Idempotency key reused', 'This Idempotency-Key was sent with another request; use a new key for a new request.'),
  internal: (cause?: unknown) =>
    new AppError(500, 'internal_error', 'Internal server error', 'An unexpected error occurred; it has been logged with the request id.', { cause }),
  databaseBusy: (cause?: unknown) =>
    new AppError(503, 'database_busy', 'Service busy', 'The database is busy; retry shortly.', { cause, headers: { 'Retry-After': '1' } }),
  storageFull: (cause?: unknown) =>
    new AppError(503, 'storage_full', 'Storage full', 'The server has no disk space left to store this; nothing was changed, and reads still work. Retry later.', {
      cause,
      headers: { 'Retry-After': '30' },
    }),
  unavailable: (detail: string, retryAfterSeconds = 1) =>
    new AppError(503, 'service_unavailable', 'Service unavailable', detail, { headers: { 'Retry-After': String(retryAfterSeconds) } }),
} as const;

/** problemBody renders an AppError as an RFC 9457 problem document. */
export function problemBody(error: AppError, requestId: string) {
  return {
    type: `/problems/${error.code}`,
    title: error.title,
    status: error.status,
    detail: error.detail,
    code: error.code,
    requestId,
    ...(error.errors ? { errors: error.errors } : {}),
  };
}
