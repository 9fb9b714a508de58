import { ROLES, type Role } from '../auth/roles.js';
import { assertMatchesContract } from './contract.js';

export interface ApiResponse<T = any> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
  readonly text: string;
}

export interface RequestOptions {
  readonly token?: string;
  /** A value to send as JSON. */
  readonly json?: unknown;
  /** A raw body, sent as is (with headers['content-type'] when given). */
  readonly raw?: string | Buffer;
  readonly headers?: Record<string, string>;
}

/** ApiClient talks to a running server over HTTP and checks every response against openapi.yaml. */
export class ApiClient {
  constructor(readonly baseUrl: string) {}

  async request<T = any>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    let body: string | Buffer | undefined;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] ??= 'application/json';
    } else if (options.raw !== undefined) {
      body = options.raw;
    }
    const response = await fetch(new URL(path, this.baseUrl), { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await response.text();
    const contentType = response.headers.get('content-type');
    const parsed: unknown = text && /json/.test(contentType ?? '') ? JSON.parse(text) : text || undefined;
    assertMatchesContract(method, new URL(path, this.baseUrl).pathname, response.status, contentType, parsed, response.headers);
    return { status: response.status, headers: response.headers, body: parsed as T, text };
  }

  get = <T = any>(path: string, options?: RequestOptions) => this.request<T>('GET', path, options);
  post = <T = any>(path: string, options?: RequestOptions) => this.request<T>('POST', path, options);
  patch = <T = any>(path: string, options?: RequestOptions) => this.request<T>('PATCH', path, options);
  delete = <T = any>(path: string, options?: RequestOptions) => this.request<T>('DELETE', path, options);

  private sequence = 0;

  /** signUp registers a fresh account (as the given admin's token allows) and logs it in. */
  async signUp(role: Role = ROLES[0], adminToken?: string, password = 'secret123') {
    const name = `u${process.pid}_${++this.sequence}_${Math.random().toString(36).slice(2, 8)}`;
    const registered = await this.post('/api/v1/auth/register', {
      json: { username: name, email: `${name}@example.com`, password, role },
      ...(adminToken ? { token: adminToken } : {}),
    });
    if (registered.status !== 201) throw new Error(`sign-up failed: ${registered.status} ${registered.text}`);
    const login = await this.post('/api/v1/auth/login', { json: { email: `${name}@example.com`, password } });
    if (login.status !== 200) throw new Error(`login failed: ${login.status} ${login.text}`);
    return { id: registered.body.id as number, token: login.body.token as string, email: `${name}@example.com`, username: name, role: registered.body.role as string };
  }
}
