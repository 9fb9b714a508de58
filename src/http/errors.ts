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
  /** Only for a client error another library raised with a 4xx status of its own. */
  readonly status?: number;
}

/** CATALOGUE is every code a client can see, with its status and title; nothing else makes one. */
const CATALOGUE = {
  validation_failed: [400, 'Request validation failed'],
  invalid_json: [400, 'Malformed JSON'],
  invalid_path: [400, 'Invalid path'],
  invalid_cursor: [400, 'Invalid cursor'],
  bad_request: [400, 'Bad request'],
  missing_token: [401, 'Authentication required'],
  invalid_token: [401, 'Invalid token'],
  token_expired: [401, 'Token expired'],
  token_revoked: [401, 'Token revoked'],
  invalid_credentials: [401, 'Invalid credentials'],
  wrong_password: [403, 'Wrong password'],
  forbidden: [403, 'Forbidden'],
  admin_role_forbidden: [403, 'Forbidden'],
  not_found: [404, 'Not found'],
  route_not_found: [404, 'Not found'],
  method_not_allowed: [405, 'Method not allowed'],
  request_timeout: [408, 'Request timeout'],
  username_taken: [409, 'Conflict'],
  email_taken: [409, 'Conflict'],
  last_admin: [409, 'Conflict'],
  payload_too_large: [413, 'Payload too large'],
  unsupported_media_type: [415, 'Unsupported media type'],
  idempotency_key_reused: [422, 'Idempotency key reused'],
  rate_limited: [429, 'Too many requests'],
  headers_too_large: [431, 'Request header fields too large'],
  internal_error: [500, 'Internal server error'],
  database_busy: [503, 'Service busy'],
  storage_full: [503, 'Storage full'],
  service_unavailable: [503, 'Service unavailable'],
} as const satisfies Record<string, readonly [number, string]>;

/** A stable snake_case code of the catalogue. */
export type ErrorCode = keyof typeof CATALOGUE;

/** ERROR_CODES lists every code of the catalogue, for the checks that no other code reaches a client. */
export const ERROR_CODES = Object.freeze(Object.keys(CATALOGUE) as ErrorCode[]);

/**
 * AppError is the one error type handlers throw: an HTTP status, a stable snake_case
 * code, a detail safe to show a client, and a private cause that only reaches the log.
 * Only the catalogue below constructs one.
 */
export class AppError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  readonly title: string;
  readonly detail: string;
  readonly errors: readonly FieldProblem[] | undefined;
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: ErrorCode, detail: string, options: AppErrorOptions = {}) {
    super(detail, { cause: options.cause });
    const [status, title] = CATALOGUE[code];
    this.name = 'AppError';
    this.status = options.status ?? status;
    this.code = code;
    this.title = title;
    this.detail = detail;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
  }
}

const BEARER_INVALID = 'Bearer realm="backend-api", error="invalid_token"';

/** The error catalogue's constructors: every error a client can see is made here. */
export const problems = {
  validation: (errors: readonly FieldProblem[]) =>
    new AppError('validation_failed', `The request has ${errors.length} problem(s); see errors.`, { errors }),
  invalidJson: (cause?: unknown) => new AppError('invalid_json', 'The request body is not valid JSON.', { cause }),
  invalidPath: () => new AppError('invalid_path', 'The path has a malformed %-escape.'),
  invalidCursor: () => new AppError('invalid_cursor', 'The cursor is malformed or was issued for another sort order.'),
  missingToken: () => new AppError('missing_token', 'This operation needs a bearer token.', { headers: { 'WWW-Authenticate': BEARER_INVALID } }),
  invalidToken: (detail = 'The bearer token is invalid.') => new AppError('invalid_token', detail, { headers: { 'WWW-Authenticate': BEARER_INVALID } }),
  tokenExpired: () =>
    new AppError('token_expired', 'The bearer token has expired; log in again.', {
      headers: { 'WWW-Authenticate': 'Bearer realm="backend-api", error="invalid_token", error_description="token expired"' },
    }),
  tokenRevoked: () => new AppError('token_revoked', 'The bearer token was revoked; log in again.', { headers: { 'WWW-Authenticate': BEARER_INVALID } }),
  invalidCredentials: () => new AppError('invalid_credentials', 'The email or password is wrong.'),
  wrongPassword: () => new AppError('wrong_password', 'The current password is wrong.'),
  forbidden: (detail = 'Your role does not allow this operation.') => new AppError('forbidden', detail),
  adminRoleForbidden: () => new AppError('admin_role_forbidden', 'Only an administrator can create another administrator.'),
  notFound: (what = 'resource') => new AppError('not_found', `The ${what} does not exist.`),
  routeNotFound: () => new AppError('route_not_found', 'No operation of this API matches the path.'),
  methodNotAllowed: (allow: readonly string[]) =>
    new AppError('method_not_allowed', `Allowed methods: ${allow.join(', ')}.`, { headers: { Allow: allow.join(', ') } }),
  usernameTaken: (detail = 'That username is taken.') => new AppError('username_taken', detail),
  emailTaken: () => new AppError('email_taken', 'An account with that email exists.'),
  lastAdmin: () => new AppError('last_admin', 'The last administrator cannot be demoted.'),
  payloadTooLarge: (limit: number) => new AppError('payload_too_large', `The request body is larger than ${limit} bytes.`),
  headersTooLarge: () => new AppError('headers_too_large', 'The request line and headers are larger than the server accepts.'),
  requestTimeout: () => new AppError('request_timeout', 'The request did not arrive in time.'),
  /** badRequest answers a malformed request; status keeps the 4xx another library (Express, a parser) chose for it. */
  badRequest: (cause?: unknown, status = 400) => new AppError('bad_request', 'The request is malformed.', { cause, status }),
  unsupportedMediaType: () => new AppError('unsupported_media_type', 'Send the body as application/json (UTF-8).'),
  rateLimited: (retryAfterSeconds: number, headers: Record<string, string> = {}) =>
    new AppError('rate_limited', `Too many requests; retry after ${retryAfterSeconds} s.`, {
      headers: { ...headers, 'Retry-After': String(retryAfterSeconds) },
    }),
  idempotencyKeyReused: () =>
    new AppError('idempotency_key_reused', 'This Idempotency-Key was sent with another request; use a new key for a new request.'),
  internal: (cause?: unknown) => new AppError('internal_error', 'An unexpected error occurred; it has been logged with the request id.', { cause }),
  databaseBusy: (cause?: unknown) => new AppError('database_busy', 'The database is busy; retry shortly.', { cause, headers: { 'Retry-After': '1' } }),
  storageFull: (cause?: unknown) =>
    new AppError('storage_full', 'The server has no disk space left to store this; nothing was changed, and reads still work. Retry later.', {
      cause,
      headers: { 'Retry-After': '30' },
    }),
  unavailable: (detail: string, retryAfterSeconds = 1) =>
    new AppError('service_unavailable', detail, { headers: { 'Retry-After': String(retryAfterSeconds) } }),
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
