import type { Statement } from 'better-sqlite3';
import type { Db } from '../db/database.js';
import type { Writer } from '../db/write.js';
import { TASK_COLUMNS, TASK_JSON, TASK_SELECT, type Task, type TaskStatus } from './task-shape.js';

export type TaskSort = 'createdAt' | 'updatedAt' | 'title';

export interface TaskChanges {
  title?: string;
  description?: string | null;
  status?: TaskStatus;
  dueDate?: string | null;
}

export interface TaskListQuery {
  status: TaskStatus | undefined;
  sort: TaskSort;
  order: 'asc' | 'desc';
  limit: number;
  after: { value: string | number; id: number } | undefined;
}

/** taskListSql is the keyset query for one shape of list request; each shape has an index that serves it. */
export function taskListSql(query: Omit<TaskListQuery, 'limit'> & { limit?: number }): string {
  const column = TASK_COLUMNS[query.sort];
  const direction = query.order === 'asc' ? 'ASC' : 'DESC';
  const where = [
    ...(query.status !== undefined ? ['status = @status'] : []),
    ...(query.after !== undefined ? [`(${column}, id) ${query.order === 'asc' ? '>' : '<'} (@value, @id)`] : []),
  ];
  // SQLite writes each row's JSON itself: no row objects, no JSON.stringify on the hot list path.
  return `SELECT ${TASK_JSON} AS json, ${column} AS sort_value, id FROM tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ${column} ${direction}, id ${direction} LIMIT @limit`;
}

/** A list row: the task as JSON text, its sort key and its id (for the next cursor). */
export type TaskListRow = [json: string, sortValue: string, id: number];

export type TaskRepository = ReturnType<typeof createTaskRepository>;

/** createTaskRepository holds every SQL statement about tasks. */
export function createTaskRepository(db: Db, write: Writer) {
  const byId = db.prepare<[number], Task>(`SELECT ${TASK_SELECT} FROM tasks WHERE id = ?`);
  const insert = db.prepare<[string, string | null, TaskStatus, string | null, number, string, string]>(
    'INSERT INTO tasks (title, description, status, due_date, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const update = db.prepare<[string, string | null, TaskStatus, string | null, string, number]>(
    'UPDATE tasks SET title = ?, description = ?, status = ?, due_date = ?, updated_at = ? WHERE id = ?',
  );
  const remove = db.prepare<[number]>('DELETE FROM tasks WHERE id = ?');
  // Every write bumps the generation inside its transaction: cached reads of the old one are dead at commit.
  const bumpGeneration = db.prepare("UPDATE cache_generations SET generation = generation + 1 WHERE resource = 'tasks'");
  const listStatements = new Map<string, Statement<unknown[], TaskListRow>>();

  /** listStatement prepares, once, the keyset query for one shape of list request. */
  function listStatement(query: TaskListQuery): Statement<unknown[], TaskListRow> {
    const key = `${query.sort}:${query.order}:${query.status !== undefined}:${query.after !== undefined}`;
    let statement = listStatements.get(key);
    if (!statement) {
      statement = db.prepare<unknown[], TaskListRow>(taskListSql(query)).raw(true);
      listStatements.set(key, statement);
    }
    return statement;
  }

  return {
    findById: (id: number) => byId.get(id),

    /** list returns up to limit rows after the cursor position. */
    list(query: TaskListQuery): TaskListRow[] {
      return listStatement(query).all({
        limit: query.limit,
        ...(query.status !== undefined ? { status: query.status } : {}),
        ...(query.after !== undefined ? { value: query.after.value, id: query.after.id } : {}),
      });
    },

    create(input: TaskChanges & { title: string }, createdBy: number): Task {
      return write(() => {
        const now = new Date().toISOString();
        const { lastInsertRowid } = insert.run(
          input.title,
          input.description ?? null,
          input.status ?? 'todo',
          input.dueDate ?? null,
          createdBy,
          now,
          now,
        );
        bumpGeneration.run();
        return byId.get(Number(lastInsertRowid)) as Task;
      });
    },

    /** update applies the given fields; undefined when the task does not exist. */
    update(id: number, changes: TaskChanges): Task | undefined {
      return write(() => {
        const row = byId.get(id);
        if (!row) return undefined;
        update.run(
          changes.title ?? row.title,
          changes.description !== undefined ? changes.description : row.description,
          changes.status ?? row.status,
          changes.dueDate !== undefined ? changes.dueDate : row.dueDate,
          new Date().toISOString(),
          id,
        );
        bumpGeneration.run();
        return byId.get(id) as Task;
      });
    },

    /** remove deletes a task and tells whether it existed. */
    remove(id: number): boolean {
      return write(() => {
        const removed = remove.run(id).changes > 0;
        if (removed) bumpGeneration.run();
        return removed;
      });
    },
  };
}
