import type { NextFunction, Request, RequestHandler, Response } from 'express';

/** runChain calls each middleware in turn; a throw, a rejected promise or next(error) ends it with the error. */
export function runChain(chain: readonly RequestHandler[], req: Request, res: Response, done: NextFunction): void {
  let index = 0;
  const step = (error?: unknown): void => {
    if (error !== undefined) return done(error);
    const middleware = chain[index++];
    if (!middleware) return done();
    try {
      const result: unknown = middleware(req, res, step);
      if (result instanceof Promise) result.then(undefined, done);
    } catch (thrown) {
      done(thrown);
    }
  };
  step();
}
