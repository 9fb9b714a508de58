export type TaskStatus = 'todo' | 'in_progress' | 'done';

/** The API's Task, as openapi.yaml's Task schema describes it. */
export interface Task {
  id: number;
  title: string;
  description: string | null;
  status: TaskStatus;
  dueDate: string | null;
  createdBy: number | null;
  createdAt: string;
  updatedAt: string;
}

/**
 * TASK_COLUMNS maps each field of the API's Task to its column of the tasks table, in the order
 * the JSON has them: the one description of the shape, which every query below and the bench's
 * reference servers derive from.
 */
export const TASK_COLUMNS = {
  id: 'id',
  title: 'title',
  description: 'description',
  status: 'status',
  dueDate: 'due_date',
  createdBy: 'created_by',
  createdAt: 'created_at',
  updatedAt: 'updated_at',
} as const satisfies { readonly [K in keyof Task]: string };

const FIELDS = Object.entries(TASK_COLUMNS);

/** TASK_SELECT selects a row as the API's Task: each column under its field's name. */
export const TASK_SELECT = FIELDS.map(([field, column]) => (field === column ? column : `${column} AS ${field}`)).join(', ');

/** TASK_JSON is the API's Task as SQLite's json_object, so that SQLite writes a list's JSON itself. */
export const TASK_JSON = `json_object(${FIELDS.map(([field, column]) => `'${field}', ${column}`).join(', ')})`;
