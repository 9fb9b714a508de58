import { Agent, request } from 'node:http';

export interface LoadRequest {
  readonly method: string;
  readonly path: string;
  readonly json?: unknown;
  readonly token?: string;
}

export interface LoadResult {
  /** Count of responses per status code. */
  readonly statuses: Record<number, number>;
  /** Bodies of the 201 responses (parsed JSON). */
  readonly created: Array<Record<string, any>>;
  /** One entry per request that got no response: its error code, and whether its socket was connected before `mark`. */
  readonly failures: Array<{ code: string; connectedAt: number; reused: boolean; startedAt: number; failedAt: number }>;
  readonly completed: Array<{ status: number; connectedAt: number; startedAt: number; endedAt: number }>;
  readonly sent: number;
  readonly durationMs: number;
}

export interface LoadOptions {
  readonly baseUrl: string;
  readonly concurrency: number;
  /** Stop after this many requests… */
  readonly total?: number;
  /** …or after this long (whichever first). */
  readonly durationMs?: number;
  readonly next: (i: number) => LoadRequest;
  /** Stop sending when this returns true (checked before each request). */
  readonly stop?: () => boolean;
  /** Reuse connections (default) or open one per request. */
  readonly keepAlive?: boolean;
}

const REQUEST_TIMEOUT_MS = 10_000;

/**
 * runLoad drives a server with `concurrency` keep-alive clients until `total` requests or
 * `durationMs`, recording every status, every failure and when each request's socket connected.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: options.keepAlive ?? true, maxSockets: options.concurrency });
  const url = new URL(options.baseUrl);
  const statuses: Record<number, number> = {};
  const created: Array<Record<string, any>> = [];
  const failures: LoadResult['failures'] = [];
  const completed: LoadResult['completed'] = [];
  const started = Date.now();
  const deadline = started + (options.durationMs ?? 60_000);
  const total = options.total ?? Infinity;
  let sent = 0;

  const one = (spec: LoadRequest) =>
    new Promise<void>((resolve) => {
      const body = spec.json === undefined ? undefined : JSON.stringify(spec.json);
      const startedAt = Date.now();
      let connectedAt = Infinity;
      let reused = false;
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          method: spec.method,
          path: spec.path,
          agent,
          headers: {
            ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}),
            ...(spec.token ? { authorization: `Bearer ${spec.token}` } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            statuses[status] = (statuses[status] ?? 0) + 1;
            if (status === 201) created.push(JSON.parse(Buffer.concat(chunks).toString()) as Record<string, any>);
            completed.push({ status, connectedAt, startedAt, endedAt: Date.now() });
            resolve();
          });
          res.on('error', (error: NodeJS.ErrnoException) => {
            failures.push({ code: error.code ?? error.message, connectedAt, reused, startedAt, failedAt: Date.now() });
            resolve();
          });
        },
      );
      // A request nobody answers must not stall the whole run: it becomes a failure of its own.
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' })));
      req.on('socket', (socket) => {
        if (!socket.connecting) {
          reused = true;
          connectedAt = startedAt;
        } else socket.once('connect', () => (connectedAt = Date.now()));
      });
      req.on('error', (error: NodeJS.ErrnoException) => {
        failures.push({ code: error.code ?? error.message, connectedAt, reused, startedAt, failedAt: Date.now() });
        resolve();
      });
      req.end(body);
    });

  const client = async () => {
    while (sent < total && Date.now() < deadline && !options.stop?.()) {
      await one(options.next(sent++));
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, client));
  agent.destroy();
  return { statuses, created, failures, completed, sent, durationMs: Date.now() - started };
}
