import type { NextFunction, Request, Response } from 'express';
import { problems } from './errors.js';

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)/i;
const decoder = new TextDecoder('utf-8', { fatal: true });

/** isUtf8 accepts no charset parameter, or UTF-8: JSON between systems is UTF-8 (RFC 8259). */
function isUtf8(contentType: string): boolean {
  const charset = CHARSET.exec(contentType)?.[1]?.toLowerCase();
  return charset === undefined || charset === 'utf-8' || charset === 'utf8';
}

/**
 * jsonBody reads an application/json (UTF-8) body of at most limit bytes into req.body; anything
 * else is a 4xx problem, never a 500. A body over the limit, declared or sent, is refused at
 * once and its connection closed, instead of reading the rest of it first.
 */
export function jsonBody(limit: number) {
  return function jsonBodyMiddleware(req: Request, res: Response, next: NextFunction): void {
    const declared = req.headers['content-length'] === undefined ? null : Number(req.headers['content-length']);
    if (req.headers['transfer-encoding'] === undefined && !declared) {
      req.body = undefined;
      return next();
    }
    const refuse = (error: Error) => {
      res.setHeader('Connection', 'close');
      next(error);
    };
    const encoding = req.headers['content-encoding'];
    if (req.is('application/json') !== 'application/json' || !isUtf8(req.headers['content-type'] ?? '') || (encoding !== undefined && encoding !== 'identity')) {
      return refuse(problems.unsupportedMediaType());
    }
    if (declared !== null && declared > limit) return refuse(problems.payloadTooLarge(limit));

    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (error?: Error) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      if (error) return refuse(error);
      try {
        const parsed: unknown = JSON.parse(decoder.decode(Buffer.concat(chunks, size)));
        if (parsed === null || typeof parsed !== 'object') return refuse(problems.invalidJson());
        req.body = parsed;
        next();
      } catch (cause) {
        refuse(problems.invalidJson(cause));
      }
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) finish(problems.payloadTooLarge(limit));
      else chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => finish());
    req.once('error', (cause) => finish(problems.invalidJson(cause)));
  };
}
