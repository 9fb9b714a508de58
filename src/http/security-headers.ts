import type { NextFunction, Request, Response } from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';

/** The app's one Content-Security-Policy, directive by directive (helmet's names). */
const CSP_DIRECTIVES: Readonly<Record<string, readonly string[]>> = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

/** A header set: name and value pairs, computed once and set on each response as they are. */
export type HeaderSet = readonly (readonly [string, string])[];

/** helmetHeaders runs helmet once against a recorder and keeps what it set: the full set, at no cost per request. */
function helmetHeaders(directives: Readonly<Record<string, readonly string[]>>): HeaderSet {
  const headers = new Map<string, string>();
  const recorder = {
    setHeader: (name: string, value: string) => headers.set(name, value),
    removeHeader: (name: string) => headers.delete(name),
  };
  let done = false;
  helmet({ contentSecurityPolicy: { useDefaults: false, directives: directives as Record<string, string[]> } })(
    {} as IncomingMessage,
    recorder as unknown as ServerResponse,
    () => (done = true),
  );
  if (!done) throw new Error('helmet did not finish synchronously; its headers cannot be computed once');
  return [...headers];
}

/**
 * PAGE_HEADERS is helmet's full set with the strict policy, for what a browser renders: the
 * dashboard, its files, the spec. Swagger UI needs inline styles and data: fonts: DOCS_CSP.
 */
export const PAGE_HEADERS: HeaderSet = helmetHeaders(CSP_DIRECTIVES);

/** DOCS_CSP is the policy of /api-docs/ only: the strict one with what Swagger UI needs. */
export const DOCS_CSP: string = cspValue({ ...CSP_DIRECTIVES, styleSrc: ["'self'", "'unsafe-inline'"], fontSrc: ["'self'", 'data:'] });

/**
 * JSON_HEADERS is the OWASP REST set for what no browser renders (every API answer, problems
 * included): no framing, no sniffing, not readable cross-origin, HTTPS only. A fifth of the bytes
 * of helmet's set, which was most of what a cached list cost to send.
 */
export const JSON_HEADERS: HeaderSet = (() => {
  const page = new Map(PAGE_HEADERS);
  const keep = (name: string) => [name, page.get(name) as string] as const;
  return [
    ['Content-Security-Policy', cspValue({ defaultSrc: CSP_DIRECTIVES.defaultSrc as string[], frameAncestors: CSP_DIRECTIVES.frameAncestors as string[] })],
    keep('Cross-Origin-Resource-Policy'),
    keep('Strict-Transport-Security'),
    keep('X-Content-Type-Options'),
    ['X-Frame-Options', 'DENY'],
  ];
})();

/** setHeaderSet puts a precomputed set on a response. */
export function setHeaderSet(res: ServerResponse, set: HeaderSet): void {
  for (const [name, value] of set) res.setHeader(name, value);
}

/** cspValue renders directives as helmet does: kebab-case names, ";" between directives. */
function cspValue(directives: Readonly<Record<string, readonly string[]>>): string {
  return Object.entries(directives)
    .map(([name, values]) => `${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} ${values.join(' ')}`)
    .join(';');
}

/** securityHeaders puts on each response the set of its kind: PAGE_HEADERS on the pages' paths, JSON_HEADERS on the rest. */
export function securityHeaders(pagePaths: ReadonlySet<string>) {
  return function securityHeadersMiddleware(req: Request, res: Response, next: NextFunction): void {
    setHeaderSet(res, pagePaths.has(req.path) ? PAGE_HEADERS : JSON_HEADERS);
    next();
  };
}
