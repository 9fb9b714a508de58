import { request } from 'node:http';
import { assertMatchesContract } from './contract.js';

export interface FreshResponse {
  readonly status: number;
  readonly body: any;
  readonly headers: Record<string, string | string[] | undefined>;
}

/**
 * freshRequest sends one request on a new connection, so that consecutive requests land on
 * different workers of a cluster, and checks the response against openapi.yaml.
 */
export function freshRequest(base: string, method: string, path: string, token?: string, json?: unknown): Promise<FreshResponse> {
  return new Promise((resolve, reject) => {
    const body = json === undefined ? undefined : JSON.stringify(json);
    const req = request(`${base}${path}`, {
      method,
      agent: false,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => {
        const parsed: unknown = text ? JSON.parse(text) : undefined;
        assertMatchesContract(method, new URL(path, base).pathname, res.statusCode ?? 0, res.headers['content-type'] ?? null, parsed);
        resolve({ status: res.statusCode ?? 0, body: parsed, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** freshAdminToken registers admin@example.com (the first account is admin) and returns its token. */
export async function freshAdminToken(base: string): Promise<string> {
  const credentials = { email: 'admin@example.com', password: 'secret123' };
  await freshRequest(base, 'POST', '/api/v1/auth/register', undefined, { username: 'admin', ...credentials });
  return (await freshRequest(base, 'POST', '/api/v1/auth/login', undefined, credentials)).body.token as string;
}
