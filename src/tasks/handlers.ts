import type { Request, Response } from 'express';
import { decodeCursor, encodeCursor } from '../http/cursor.js';
import { problems } from '../http/errors.js';
import type { OperationHandler } from '../openapi/router.js';
import { RawJson } from '../http/json-response.js';
import type { TaskChanges, TaskRepository, TaskSort } from './repository.js';
import type { TaskStatus } from './task-shape.js';

interface ListQuery {
  limit: number;
  cursor?: string;
  status?: TaskStatus;
  sort: TaskSort;
  order: 'asc' | 'desc';
}

/** taskHandlers: reading for every role, writing for admins (the roles are in openapi.yaml). */
export function taskHandlers({ tasks, basePath }: { tasks: TaskRepository; basePath: string }): Record<string, OperationHandler> {
  return {
    listTasks(req: Request, res: Response) {
      const { limit, cursor, status, sort, order } = req.input.query as unknown as ListQuery;
      const cursorOrder = `${sort}:${order}:${status ?? ''}`;
      const after = cursor === undefined ? undefined : decodeCursor(cursor, cursorOrder);
      const rows = tasks.list({ status, sort, order, limit: limit + 1, after });
      const hasMore = rows.length > limit;
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      const nextCursor = hasMore && last ? encodeCursor(cursorOrder, last[1], last[2]) : null;
      res.json(new RawJson(`{"data":[${page.map((row) => row[0]).join(',')}],"page":${JSON.stringify({ limit, hasMore, nextCursor })}}`));
    },

    getTask(req: Request, res: Response) {
      const row = tasks.findById((req.input.path as { id: number }).id);
      if (!row) throw problems.notFound('task');
      res.json(row);
    },

    createTask(req: Request, res: Response) {
      const row = tasks.create(req.input.body as TaskChanges & { title: string }, req.auth!.userId);
      res.status(201).location(`${basePath}/tasks/${row.id}`).json(row);
    },

    updateTask(req: Request, res: Response) {
      const row = tasks.update((req.input.path as { id: number }).id, req.input.body as TaskChanges);
      if (!row) throw problems.notFound('task');
      res.json(row);
    },

    deleteTask(req: Request, res: Response) {
      if (!tasks.remove((req.input.path as { id: number }).id)) throw problems.notFound('task');
      res.status(204).end();
    },
  };
}
