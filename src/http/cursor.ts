import { problems } from './errors.js';

/** encodeCursor packs the position after the last item of a page, and the order it was read in. */
export function encodeCursor(order: string, value: string | number, id: number): string {
  return Buffer.from(JSON.stringify([order, value, id])).toString('base64url');
}

/** decodeCursor unpacks a cursor made by encodeCursor for the same order; anything else is a 400. */
export function decodeCursor(cursor: string, order: string): { value: string | number; id: number } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw problems.invalidCursor();
  }
  if (!Array.isArray(parsed) || parsed.length !== 3) throw problems.invalidCursor();
  const [cursorOrder, value, id] = parsed as [unknown, unknown, unknown];
  if (cursorOrder !== order || (typeof value !== 'string' && typeof value !== 'number') || !Number.isSafeInteger(id)) {
    throw problems.invalidCursor();
  }
  return { value, id: id as number };
}
