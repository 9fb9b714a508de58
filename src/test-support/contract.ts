import type { ValidateFunction } from 'ajv/dist/2020.js';
import { ERROR_CODES } from '../http/errors.js';
import { createAjv } from '../openapi/ajv.js';
import { loadSpec, type Operation, type Spec } from '../openapi/spec.js';

const spec: Spec = loadSpec();
const ajv = createAjv('bodies');
const compiled = new Map<string, ValidateFunction>();
const matchers = spec.operations.map((op) => ({
  op,
  pattern: new RegExp(`^${op.path.replace(/\{\w+\}/g, '[^/]+')}$`),
}));
const problemSchema = (spec.operations[0]?.responses['500'] as { content: Record<string, { schema: object }> }).content[
  'application/problem+json'
]?.schema as object;

/** The spec as the tests see it. */
export const testSpec = spec;

/** findOperation returns the operation a request hits, if any. */
export function findOperation(method: string, pathname: string): Operation | undefined {
  return matchers.find(({ op, pattern }) => op.method === method.toLowerCase() && pattern.test(pathname))?.op;
}

// The response headers this API sets itself; each one a response carries must be declared for it.
const API_HEADERS = ['Idempotent-Replayed', 'Location', 'X-Cache', 'ETag', 'Retry-After', 'RateLimit', 'RateLimit-Policy', 'WWW-Authenticate'];

/**
 * assertMatchesContract throws unless the response is one openapi.yaml declares for the
 * operation: a declared status, the declared media type, a body valid against its schema, and
 * only declared API headers. Responses of no operation (404, 405) must be problem documents.
 */
export function assertMatchesContract(
  method: string,
  pathname: string,
  status: number,
  contentType: string | null,
  body: unknown,
  headers: Headers = new Headers(),
): void {
  const where = `${method} ${pathname} → ${status}`;
  const isProblem = contentType?.startsWith('application/problem+json') ?? false;
  if (status >= 400 && !isProblem) throw new Error(`${where}: an error must be application/problem+json, got ${contentType}`);
  const op = findOperation(method === 'HEAD' ? 'GET' : method, pathname);
  const problemCode = isProblem && method !== 'HEAD' ? assertCatalogueCode(body, where) : undefined;
  if (!op) {
    if (status !== 404 && status !== 405) throw new Error(`${where}: no operation in openapi.yaml matches`);
    validate('problem', problemSchema, body, where);
    return;
  }
  const response = op.responses[String(status)] as DeclaredResponse | undefined;
  if (!response) throw new Error(`${where}: status ${status} is not declared for ${op.id}`);
  if (problemCode !== undefined && response['x-codes'] && !response['x-codes'].includes(problemCode)) {
    throw new Error(`${where}: code ${problemCode} is not among the x-codes of ${op.id}'s ${status}: ${response['x-codes'].join(', ')}`);
  }
  const undeclared = API_HEADERS.filter((name) => headers.has(name) && !Object.keys(response.headers ?? {}).some((key) => key.toLowerCase() === name.toLowerCase()));
  if (undeclared.length > 0) throw new Error(`${where}: sends ${undeclared.join(', ')}, not declared for ${op.id}`);
  if (!response.content || method === 'HEAD') {
    if (body !== undefined && body !== '' && method !== 'HEAD') throw new Error(`${where}: declared without a body, got one`);
    return;
  }
  const mediaType = contentType?.split(';')[0]?.trim() ?? '';
  const media = response.content[mediaType];
  if (!media) throw new Error(`${where}: media type ${mediaType} not declared (declared: ${Object.keys(response.content).join(', ')})`);
  if (media.schema) validate(`${op.id}:${status}:${mediaType}`, media.schema, body, where);
}

type DeclaredResponse = { content?: Record<string, { schema?: object }>; headers?: Record<string, unknown>; 'x-codes'?: string[] };

/** assertCatalogueCode returns a problem document's code, and throws unless it is one of the catalogue's (src/http/errors.ts). */
export function assertCatalogueCode(body: unknown, where: string): string {
  const code = (body as { code?: unknown } | null)?.code;
  if (!(ERROR_CODES as readonly unknown[]).includes(code)) throw new Error(`${where}: code ${String(code)} is not in the error catalogue (src/http/errors.ts)`);
  return code as string;
}

function validate(key: string, schema: object, body: unknown, where: string): void {
  let validator = compiled.get(key);
  if (!validator) {
    validator = ajv.compile(schema);
    compiled.set(key, validator);
  }
  if (!validator(body)) {
    throw new Error(`${where}: body does not match openapi.yaml: ${JSON.stringify(validator.errors)}\n${JSON.stringify(body)}`);
  }
}
