import type { Response } from 'express';

/** RawJson is a response body that is already JSON text (built by SQLite), sent without JSON.stringify. */
export class RawJson {
  constructor(readonly text: string) {}
}

/** The Content-Type of every JSON answer (Express's res.json gave the same). */
export const JSON_TYPE = 'application/json; charset=utf-8';

/** The Content-Type of every problem document (RFC 9457). */
export const PROBLEM_TYPE = 'application/problem+json; charset=utf-8';

/** jsonBytes renders a response value: RawJson as it is, anything else through JSON.stringify. */
export function jsonBytes(value: unknown): Buffer {
  return Buffer.from(value instanceof RawJson ? value.text : JSON.stringify(value));
}

/** A JsonInterceptor takes a JSON body before it is written and writes it itself (the response cache, on a miss). */
export type JsonInterceptor = (res: Response, body: Buffer) => void;

/** writeBody is the one place a response body is written: its type and length, and no body for HEAD. */
export function writeBody(res: Response, body: Buffer, type: string): void {
  res.setHeader('Content-Type', type);
  res.setHeader('Content-Length', body.length);
  if (res.req.method === 'HEAD') res.end();
  else res.end(body);
}

/**
 * sendJson is res.json for every response of the app, whoever calls it: a RawJson goes out as
 * the JSON it already is, anything else through JSON.stringify, both through writeBody; a
 * response that has an interceptor (the cache's, on a miss) hands it the body instead.
 */
export function sendJson(this: Response, value: unknown): Response {
  const body = jsonBytes(value);
  const intercept = this.interceptJson;
  if (intercept) {
    this.interceptJson = undefined;
    intercept(this, body);
  } else {
    writeBody(this, body, (this.getHeader('Content-Type') as string | undefined) ?? JSON_TYPE);
  }
  return this;
}
