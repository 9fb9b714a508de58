import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from '../test-support/app.js';
import { taskListSql } from './repository.js';

describe('tasks', () => {
  let app: TestApp;
  let admin: { token: string; id: number };
  let user: { token: string };

  before(async () => {
    app = await startTestApp();
    admin = await app.api.signUp('user');
    user = await app.api.signUp('user');
  });
  after(() => app.close());

  const count = () => (app.db.prepare('SELECT count(*) AS n FROM tasks').get() as { n: number }).n;

  test('the first account of an empty database is an admin, the next one a user', async () => {
    const me = await app.api.get('/api/v1/auth/me', { token: admin.token });
    assert.equal(me.body.role, 'admin');
    const other = await app.api.get('/api/v1/auth/me', { token: user.token });
    assert.equal(other.body.role, 'user');
  });

  test('a task reads the same, field for field and in the same order, in a list as on its own', async () => {
    const created = await app.api.post('/api/v1/tasks', { token: admin.token, json: { title: 'same shape', description: null, dueDate: '2026-12-31' } });
    const one = await app.api.get(`/api/v1/tasks/${created.body.id}`, { token: user.token });
    const list = await app.api.get('/api/v1/tasks?limit=100', { token: user.token });
    const listed = list.body.data.find((task: { id: number }) => task.id === created.body.id);
    assert.equal(JSON.stringify(listed), one.text);
    assert.equal(one.text, created.text);
  });

  test('an admin creates, reads, changes and deletes a task', async () => {
    const created = await app.api.post('/api/v1/tasks', {
      token: admin.token,
      json: { title: 'Write docs', description: 'all of them', dueDate: '2026-12-31' },
    });
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('location'), `/api/v1/tasks/${created.body.id}`);
    assert.equal(created.body.status, 'todo');
    assert.equal(created.body.createdBy, admin.id);

    const read = await app.api.get(`/api/v1/tasks/${created.body.id}`, { token: user.token });
    assert.deepEqual(read.body, created.body);

    const changed = await app.api.patch(`/api/v1/tasks/${created.body.id}`, { token: admin.token, json: { status: 'done', description: null } });
    assert.equal(changed.status, 200);
    assert.equal(changed.body.status, 'done');
    assert.equal(changed.body.description, null);
    assert.equal(changed.body.title, 'Write docs');
    assert.ok(changed.body.updatedAt >= created.body.updatedAt);

    const removed = await app.api.delete(`/api/v1/tasks/${created.body.id}`, { token: admin.token });
    assert.equal(removed.status, 204);
    const gone = await app.api.get(`/api/v1/tasks/${created.body.id}`, { token: admin.token });
    assert.equal(gone.status, 404);
    assert.equal(gone.body.code, 'not_found');
  });

  test('a user may read but not write tasks, and the handler does not run', async () => {
    const before = count();
    const handledBefore = app.handled.length;
    const refused = await app.api.post('/api/v1/tasks', { token: user.token, json: { title: 'nope' } });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.code, 'forbidden');
    assert.equal(count(), before);
    assert.equal(app.handled.length, handledBefore);
  });

  test('changing or deleting an unknown task is 404 and changes nothing', async () => {
    const before = count();
    assert.equal((await app.api.patch('/api/v1/tasks/999999', { token: admin.token, json: { title: 'x' } })).status, 404);
    assert.equal((await app.api.delete('/api/v1/tasks/999999', { token: admin.token })).status, 404);
    assert.equal(count(), before);
  });

  test('an empty change is a validation error', async () => {
    const task = await app.api.post('/api/v1/tasks', { token: admin.token, json: { title: 'keep me' } });
    const empty = await app.api.patch(`/api/v1/tasks/${task.body.id}`, { token: admin.token, json: {} });
    assert.equal(empty.status, 400);
    assert.equal(empty.body.code, 'validation_failed');
    const stored = await app.api.get(`/api/v1/tasks/${task.body.id}`, { token: admin.token });
    assert.deepEqual(stored.body, task.body);
  });

  describe('listing', () => {
    const titles = ['delta', 'alpha', 'echo', 'charlie', 'bravo', 'foxtrot', 'golf'];
    before(async () => {
      for (const [i, title] of titles.entries()) {
        await app.api.post('/api/v1/tasks', { token: admin.token, json: { title: `list-${title}`, status: i % 2 ? 'done' : 'in_progress' } });
      }
    });

    async function walk(query: string, limit: number) {
      const seen: Array<{ id: number; title: string; status: string; createdAt: string }> = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const url: string = `/api/v1/tasks?limit=${limit}&${query}${cursor ? `&cursor=${cursor}` : ''}`;
        const page = await app.api.get(url, { token: user.token });
        assert.equal(page.status, 200, page.text);
        assert.ok(page.body.data.length <= limit);
        assert.equal(page.body.page.limit, limit);
        seen.push(...page.body.data);
        cursor = page.body.page.nextCursor;
        assert.equal(page.body.page.hasMore, cursor !== null);
        pages++;
      } while (cursor && pages < 50);
      return seen;
    }

    test('pages by title in both orders visit every task once, in order', async () => {
      for (const order of ['asc', 'desc'] as const) {
        const seen = (await walk(`sort=title&order=${order}`, 2)).filter((t) => t.title.startsWith('list-'));
        const expected = titles.map((t) => `list-${t}`).sort();
        if (order === 'desc') expected.reverse();
        assert.deepEqual(
          seen.map((t) => t.title),
          expected,
        );
      }
    });

    test('pages by creation time, newest first by default, with a status filter', async () => {
      const all = await walk('status=done', 2);
      assert.ok(all.length >= 3);
      assert.ok(all.every((t) => t.status === 'done'));
      const ids = all.map((t) => t.id);
      assert.deepEqual(ids, [...ids].sort((a, b) => b - a));
      assert.equal(new Set(ids).size, ids.length);
    });

    test('limit defaults to 20 and is capped at 100', async () => {
      const page = await app.api.get('/api/v1/tasks', { token: user.token });
      assert.equal(page.body.page.limit, 20);
      const tooMany = await app.api.get('/api/v1/tasks?limit=101', { token: user.token });
      assert.equal(tooMany.status, 400);
      assert.deepEqual(tooMany.body.errors, [{ in: 'query', pointer: '/limit', message: 'must be <= 100' }]);
    });

    test('a cursor from another sort order, or a forged one, is invalid_cursor', async () => {
      const first = await app.api.get('/api/v1/tasks?limit=1&sort=title', { token: user.token });
      const cursor = first.body.page.nextCursor as string;
      const mismatched = await app.api.get(`/api/v1/tasks?limit=1&sort=updatedAt&cursor=${cursor}`, { token: user.token });
      assert.equal(mismatched.status, 400);
      assert.equal(mismatched.body.code, 'invalid_cursor');
      const forged = await app.api.get('/api/v1/tasks?cursor=bm90LWpzb24', { token: user.token });
      assert.equal(forged.body.code, 'invalid_cursor');
    });

    test('every list query shape is served by an index, without a sort step', () => {
      for (const sort of ['createdAt', 'updatedAt', 'title'] as const) {
        for (const order of ['asc', 'desc'] as const) {
          for (const status of [undefined, 'done'] as const) {
            for (const after of [undefined, { value: 'x', id: 1 }]) {
              const sql = taskListSql({ sort, order, status, after, limit: 10 });
              const plan = (app.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all({ limit: 10, status: 'done', value: 'x', id: 1 }) as Array<{ detail: string }>)
                .map((row) => row.detail)
                .join(' | ');
              assert.match(plan, /USING (COVERING )?INDEX tasks_/, `${sql}: ${plan}`);
              assert.doesNotMatch(plan, /TEMP B-TREE/, `${sql}: ${plan}`);
            }
          }
        }
      }
    });
  });
});
