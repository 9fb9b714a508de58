import { randomUUID } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildApp } from './app.js';
import type { PasswordHasher } from './auth/passwords.js';
import type { Config } from './config.js';
import { closeDatabase, openDatabase, type Db } from './db/database.js';
import type { Lifecycle } from './health/states.js';
import { problemBody, problems } from './http/errors.js';
import { PROBLEM_TYPE } from './http/json-response.js';
import type { Logger } from './logging/logger.js';
import type { Spec } from './openapi/spec.js';
import type { ProcessModel } from './process/model.js';
import { connectRedis } from './redis/client.js';

/** How long a draining server keeps idle keep-alive sockets open for one last request each. */
const IDLE_SOCKET_GRACE_MS = 1000;
const REDIS_START_WAIT_MS = 3000;

export interface RunningServer {
  readonly server: Server;
  readonly port: number;
  readonly lifecycle: Lifecycle;
  /** drain stops accepting, lets in-flight requests finish (bounded by the shutdown timeout) and closes everything. */
  drain(reason: string): Promise<void>;
}

export interface ServeOptions {
  readonly config: Config;
  readonly logger: Logger;
  /** An open database, or one is opened from config.database. */
  readonly db?: Db;
  /** The process model this server runs in (singleProcess() for one on its own). */
  readonly model: ProcessModel;
  /**
   * How long a draining server still accepts, answering with Connection: close, before it stops
   * listening. Behind node:cluster's primary (or PM2) a connection the kernel took in before the
   * stop may not have reached a worker yet; when the last worker stops listening, the primary
   * resets every such one. The grace lets them arrive.
   */
  readonly acceptGraceMs?: number;
  readonly observe?: (operationId: string) => void;
  readonly passwords?: PasswordHasher;
  /** The contract to serve (default: openapi.yaml). */
  readonly spec?: Spec;
}

/** serve builds the app and listens; the returned drain is the graceful shutdown. */
export async function serve(options: ServeOptions): Promise<RunningServer> {
  const { config, logger } = options;
  const db = options.db ?? openDatabase(config.database.path, { synchronous: config.database.synchronous });
  const lifecycle: Lifecycle = { state: 'starting' };
  const redis = config.redisUrl ? connectRedis(config.redisUrl, config.redisCommandTimeoutMs, logger) : null;
  // Ready means Redis too when it is configured; if it does not come, serve without it (degraded).
  if (redis && !(await redis.ready(REDIS_START_WAIT_MS))) logger.warn('redis not reachable at start; serving without it');
  const app = buildApp({
    config,
    db,
    logger,
    lifecycle,
    redis,
    model: options.model,
    ...(options.observe ? { observe: options.observe } : {}),
    ...(options.passwords ? { passwords: options.passwords } : {}),
    ...(options.spec ? { spec: options.spec } : {}),
  });

  const server = createServer({
    requestTimeout: 30_000,
    headersTimeout: 20_000,
    keepAliveTimeout: 65_000,
    IncomingMessage: app.IncomingMessage,
    ServerResponse: app.ServerResponse,
  });
  server.on('clientError', answerClientError);
  const active = new Set<ServerResponse>();
  server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
    // While draining every response closes its connection, so a client never reuses a socket that is about to go.
    if (lifecycle.state === 'stopping') res.setHeader('Connection', 'close');
    active.add(res);
    res.once('close', () => active.delete(res));
  });
  // After the listener above, so that a response the app finishes synchronously still carries it.
  server.on('request', app.handle);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  lifecycle.state = 'ready';
  const port = (server.address() as AddressInfo).port;

  let drained: Promise<void> | undefined;
  async function drain(reason: string): Promise<void> {
    lifecycle.state = 'stopping';
    logger.info('draining', { reason, inFlight: active.size, pid: process.pid });
    const deadline = Date.now() + config.shutdownTimeoutMs;
    for (const res of active) if (!res.headersSent) res.setHeader('Connection', 'close');
    if (options.acceptGraceMs) await sleep(Math.min(options.acceptGraceMs, config.shutdownTimeoutMs / 2));
    // net.Server's close stops accepting without http.Server's closing of idle keep-alive sockets,
    // which would reset a request a client is sending on one right now.
    net.Server.prototype.close.call(server);
    let idleSince = active.size === 0 ? Date.now() : Infinity;
    while (Date.now() < deadline) {
      const connections = await new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n ?? 0)));
      if (connections === 0) break;
      if (active.size > 0) idleSince = Infinity;
      else if (idleSince === Infinity) idleSince = Date.now();
      else if (Date.now() - idleSince >= IDLE_SOCKET_GRACE_MS) break;
      await sleep(20);
    }
    if (active.size > 0) logger.warn('drain limit reached; closing requests still in flight', { inFlight: active.size });
    server.closeAllConnections();
    const unfinished = closeDatabase(db, 'PASSIVE');
    if (unfinished) logger.warn('last checkpoint failed; the WAL is kept and replayed at the next start', { error: (unfinished as Error).message });
    await redis?.quit();
    logger.info('drained', { pid: process.pid });
  }

  return {
    server,
    port,
    lifecycle,
    drain: (reason) => (drained ??= drain(reason)),
  };
}

/**
 * answerClientError answers what Node's HTTP parser refuses before the app sees it (a request
 * head over 16 KB, a malformed request) with a problem document, like every other error, where
 * Node would send a bare status line. As Node does, it writes nothing once a response has begun.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (error.code !== 'ECONNRESET' && socket.writable && !inFlight?.headersSent) {
    const problem =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? problems.headersTooLarge()
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? problems.requestTimeout()
          : problems.badRequest(error);
    const requestId = randomUUID();
    const body = JSON.stringify(problemBody(problem, requestId));
    socket.write(
      `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status]}\r\n` +
        `Content-Type: ${PROBLEM_TYPE}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
