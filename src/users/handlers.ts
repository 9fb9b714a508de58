import type { Request, Response } from 'express';
import { decodeCursor, encodeCursor } from '../http/cursor.js';
import { problems } from '../http/errors.js';
import type { OperationHandler } from '../openapi/router.js';
import type { Role } from '../auth/roles.js';
import { toUser, type UserRepository } from './repository.js';

/** userHandlers: the administrators' view of accounts. */
export function userHandlers({ users }: { users: UserRepository }): Record<string, OperationHandler> {
  return {
    listUsers(req: Request, res: Response) {
      const { limit, cursor } = req.input.query as { limit: number; cursor?: string };
      const position = cursor === undefined ? null : decodeCursor(cursor, 'id');
      // This list's cursors carry the id twice; any other value was not issued here.
      if (position && position.value !== position.id) throw problems.invalidCursor();
      const rows = users.list(position?.id ?? 0, limit + 1);
      const hasMore = rows.length > limit;
      const data = rows.slice(0, limit).map(toUser);
      const last = data.at(-1);
      res.json({ data, page: { limit, hasMore, nextCursor: hasMore && last ? encodeCursor('id', last.id, last.id) : null } });
    },

    getUser(req: Request, res: Response) {
      const { id } = req.input.path as { id: number };
      const row = users.findById(id);
      if (!row) throw problems.notFound('user');
      res.json(toUser(row));
    },

    updateUser(req: Request, res: Response) {
      const { id } = req.input.path as { id: number };
      const { role } = req.input.body as { role: Role };
      res.json(toUser(users.setRole(id, role)));
    },
  };
}
