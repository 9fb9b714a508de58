// The dashboard: plain DOM code, no framework, no inline script (the page runs under a strict CSP).
// API data only ever reaches the page through textContent, never as HTML.
'use strict';

const API = '/api/v1';
const SHOWN_HEADERS = ['x-cache', 'ratelimit', 'ratelimit-policy', 'x-request-id', 'retry-after', 'etag'];
// sessionStorage: the token dies with the tab and is not shared with other tabs.
const session = {
  get token() {
    return sessionStorage.getItem('token');
  },
  get user() {
    return JSON.parse(sessionStorage.getItem('user') || 'null');
  },
  save(token, user) {
    sessionStorage.setItem('token', token);
    sessionStorage.setItem('user', JSON.stringify(user));
  },
  clear() {
    sessionStorage.removeItem('token');
    sessionStorage.removeItem('user');
  },
};
const paging = { cursors: [], next: null };

const $ = (id) => document.getElementById(id);
const el = (tag, text, attributes = {}) => {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
};

/** api sends one request, records the exchange, and returns the parsed body (throws the problem on 4xx/5xx). */
async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (session.token) headers.authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let parsed;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  logExchange(method, path, response, parsed);
  if (!response.ok) throw Object.assign(new Error(parsed?.detail || response.statusText), { problem: parsed, status: response.status });
  return parsed;
}

function logExchange(method, path, response, body) {
  const item = el('li');
  const line = el('strong', `${method} ${path} → `);
  line.append(el('span', `${response.status} ${response.statusText}`, { class: response.ok ? 'status-ok' : 'status-bad' }));
  item.append(line);
  const list = el('dl');
  for (const name of SHOWN_HEADERS) {
    const value = response.headers.get(name);
    if (value !== null) list.append(el('dt', name), el('dd', value));
  }
  if (list.childElementCount > 0) item.append(list);
  if (body !== undefined) item.append(el('pre', typeof body === 'string' ? body : JSON.stringify(body, null, 2)));
  const log = $('exchange-log');
  log.prepend(item);
  while (log.childElementCount > 30) log.lastElementChild.remove();
}

function showProblem(error) {
  const box = $('problem');
  box.replaceChildren();
  const problem = error.problem;
  if (problem && typeof problem === 'object') {
    box.append(el('strong', `${problem.title || 'Error'} (${problem.status ?? error.status}, ${problem.code || 'unknown'})`), el('p', problem.detail || ''));
    if (Array.isArray(problem.errors) && problem.errors.length > 0) {
      const list = el('ul');
      for (const item of problem.errors) list.append(el('li', `${item.in} ${item.pointer || '(whole)'}: ${item.message}`));
      box.append(list);
    }
  } else {
    box.append(el('strong', 'Request failed'), el('p', error.message));
  }
  box.hidden = false;
}

function clearProblem() {
  $('problem').hidden = true;
}

/** guarded runs an action, turning any failure into the readable problem box. */
function guarded(action) {
  return async (event) => {
    event?.preventDefault();
    clearProblem();
    try {
      await action(event);
    } catch (error) {
      showProblem(error);
    }
  };
}

function render() {
  const user = session.user;
  $('session').textContent = user ? `Logged in as ${user.username} (${user.role})` : 'Not logged in.';
  $('logout').hidden = !user;
  $('tasks').hidden = !user;
  for (const node of document.querySelectorAll('.admin-only')) node.hidden = user?.role !== 'admin';
}

function formData(form) {
  const data = {};
  for (const [name, value] of new FormData(form)) if (value !== '') data[name] = value;
  return data;
}

async function loadTasks(cursor) {
  const filters = formData($('filter-form'));
  const query = new URLSearchParams(filters);
  if (cursor) query.set('cursor', cursor);
  const result = await api('GET', `${API}/tasks?${query}`);
  paging.next = result.page.nextCursor;
  $('next-page').disabled = !result.page.hasMore;
  $('page-info').textContent = `Page ${paging.cursors.length + 1}: ${result.data.length} task(s)${result.page.hasMore ? ', more on the next page' : ''}.`;
  const rows = $('task-rows');
  rows.replaceChildren(...result.data.map(taskRow));
}

function taskRow(task) {
  const row = el('tr');
  row.append(el('td', task.title), el('td', task.status), el('td', task.dueDate ?? '—'), el('td', new Date(task.createdAt).toLocaleString()));
  if (session.user?.role === 'admin') {
    const cell = el('td', undefined, { class: 'actions' });
    const select = el('select', undefined, { 'aria-label': `Status of ${task.title}` });
    for (const status of ['todo', 'in_progress', 'done']) {
      const option = el('option', status, { value: status });
      option.selected = status === task.status;
      select.append(option);
    }
    const save = el('button', 'Save status', { type: 'button', class: 'secondary' });
    save.addEventListener('click', guarded(async () => {
      await api('PATCH', `${API}/tasks/${task.id}`, { status: select.value });
      await reloadPage();
    }));
    const remove = el('button', 'Delete', { type: 'button', class: 'danger', 'aria-label': `Delete ${task.title}` });
    remove.addEventListener('click', guarded(async () => {
      await api('DELETE', `${API}/tasks/${task.id}`);
      await reloadPage();
    }));
    cell.append(select, save, remove);
    row.append(cell);
  }
  return row;
}

const reloadPage = () => loadTasks(paging.cursors.at(-1));

async function afterLogin(result) {
  session.save(result.token, result.user);
  render();
  paging.cursors = [];
  await loadTasks();
}

document.addEventListener('DOMContentLoaded', () => {
  $('register-form').addEventListener('submit', guarded(async (event) => {
    const data = formData(event.target);
    await api('POST', `${API}/auth/register`, data);
    $('login-email').value = data.email;
    $('login-password').focus();
  }));
  $('login-form').addEventListener('submit', guarded(async (event) => {
    await afterLogin(await api('POST', `${API}/auth/login`, formData(event.target)));
    event.target.reset();
  }));
  $('logout').addEventListener('click', guarded(async () => {
    try {
      await api('POST', `${API}/auth/logout`);
    } finally {
      session.clear();
      render();
    }
  }));
  $('create-form').addEventListener('submit', guarded(async (event) => {
    await api('POST', `${API}/tasks`, formData(event.target));
    event.target.reset();
    paging.cursors = [];
    await loadTasks();
  }));
  $('filter-form').addEventListener('submit', guarded(async () => {
    paging.cursors = [];
    await loadTasks();
  }));
  $('next-page').addEventListener('click', guarded(async () => {
    paging.cursors.push(paging.next);
    await loadTasks(paging.next);
  }));
  $('first-page').addEventListener('click', guarded(async () => {
    paging.cursors = [];
    await loadTasks();
  }));
  render();
  if (session.user) guarded(reloadPage)();
});
