// The dashboard: plain DOM code, no framework, no inline script (the page runs under a strict CSP).
// API data only ever reaches the page through textContent, never as HTML.
'use strict';

const API = '/api/v1';
const SHOWN_HEADERS = ['location', 'x-cache', 'ratelimit', 'ratelimit-policy', 'retry-after', 'www-authenticate', 'x-request-id'];
const SECRET_FIELDS = new Set(['password', 'currentPassword', 'newPassword']);
const MAX_EXCHANGES = 25;

// sessionStorage: the token dies with the tab and is not shared with other tabs or kept on disk.
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

// A cursor is only valid with the sort, order and status it came from, so the query is fixed
// when "Show" is pressed; cursors[i] opens page i + 1 (null: the first page).
const paging = { query: '', cursors: [null], index: 0, next: null };

const $ = (id) => document.getElementById(id);
const el = (tag, text, attributes = {}) => {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
};

/** api sends one request, records the exchange, and returns the parsed body (throws the problem on 4xx/5xx). */
async function api(method, path, body) {
  const headers = { accept: 'application/json, application/problem+json' };
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
  logExchange({ method, path, sentToken: Boolean(headers.authorization), body }, response, parsed);
  if (response.status === 401 && headers.authorization && response.headers.has('www-authenticate')) {
    // The server refused the token itself (expired, revoked): this session is over.
    session.clear();
    render();
  }
  if (!response.ok) throw Object.assign(new Error(parsed?.detail || response.statusText), { problem: parsed, status: response.status });
  return parsed;
}

const redacted = (body) => JSON.stringify(body, (key, value) => (SECRET_FIELDS.has(key) ? '********' : value), 2);

function logExchange(request, response, body) {
  const item = el('details');
  const summary = el('summary');
  summary.append(el('span', `${request.method} ${request.path} → `));
  summary.append(el('strong', `${response.status} ${response.statusText}`, { class: response.ok ? 'status-ok' : 'status-bad' }));
  item.append(summary);
  if (request.sentToken || request.body !== undefined) {
    item.append(el('h4', 'Request'));
    if (request.sentToken) item.append(headerList([['authorization', 'Bearer (the session token)']]));
    if (request.body !== undefined) item.append(el('pre', redacted(request.body)));
  }
  item.append(el('h4', 'Response'));
  const shown = SHOWN_HEADERS.map((name) => [name, response.headers.get(name)]).filter(([, value]) => value !== null);
  shown.unshift(['content-type', response.headers.get('content-type') ?? '(none)']);
  item.append(headerList(shown));
  if (body !== undefined) item.append(el('pre', typeof body === 'string' ? body : JSON.stringify(body, null, 2)));

  const log = $('exchange-log');
  // Only the newest exchange starts open, so the list stays a list.
  if (log.firstElementChild) log.firstElementChild.firstElementChild.open = false;
  item.open = true;
  log.prepend(el('li'));
  log.firstElementChild.append(item);
  while (log.childElementCount > MAX_EXCHANGES) log.lastElementChild.remove();
}

function headerList(pairs) {
  const list = el('dl');
  for (const [name, value] of pairs) list.append(el('dt', name), el('dd', value));
  return list;
}

function showProblem(error) {
  const box = $('problem');
  box.replaceChildren();
  const problem = error.problem;
  if (problem && typeof problem === 'object') {
    box.append(el('strong', `${problem.title || 'Error'} — ${problem.status ?? error.status}`));
    if (problem.detail) box.append(el('p', problem.detail));
    if (problem.code) box.append(el('p', `code: ${problem.code}`, { class: 'code' }));
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

/** guarded runs an action, turning any failure into the readable problem box. */
function guarded(action) {
  return async (event) => {
    event?.preventDefault();
    $('problem').hidden = true;
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
  if (!user) forgetTasks();
  // status.js shows its live view to admins and stops refreshing it for anyone else.
  document.dispatchEvent(new CustomEvent('dashboard:session'));
}

function formData(form) {
  const data = {};
  for (const [name, value] of new FormData(form)) if (value !== '') data[name] = value;
  return data;
}

async function loadPage(index) {
  const query = new URLSearchParams(paging.query);
  const cursor = paging.cursors[index];
  if (cursor) query.set('cursor', cursor);
  const result = await api('GET', `${API}/tasks?${query}`);
  paging.index = index;
  paging.next = result.page.nextCursor;
  $('prev-page').disabled = index === 0;
  $('next-page').disabled = !result.page.hasMore;
  const more = result.page.hasMore ? ', more on the next page' : '';
  $('page-info').textContent = `Page ${index + 1}: ${result.data.length} task(s)${more}.`;
  $('task-rows').replaceChildren(...result.data.map(taskRow));
}

/** forgetTasks takes the last session's list off the page: the next account must not see it, nor its buttons. */
function forgetTasks() {
  $('task-rows').replaceChildren();
  $('page-info').textContent = 'No tasks loaded.';
}

/** showFirstPage fixes the filters of the list and shows its first page. */
function showFirstPage() {
  paging.query = new URLSearchParams(formData($('filter-form'))).toString();
  paging.cursors = [null];
  return loadPage(0);
}

const reloadPage = () => loadPage(paging.index);

function taskRow(task) {
  const row = el('tr');
  const created = new Date(task.createdAt).toLocaleString();
  row.append(el('td', task.title), el('td', task.status), el('td', task.dueDate ?? '—'), el('td', created));
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

document.addEventListener('DOMContentLoaded', () => {
  $('register-form').addEventListener('submit', guarded(async (event) => {
    const data = formData(event.target);
    await api('POST', `${API}/auth/register`, data);
    event.target.reset();
    $('login-email').value = data.email;
    $('login-password').focus();
  }));
  $('login-form').addEventListener('submit', guarded(async (event) => {
    const result = await api('POST', `${API}/auth/login`, formData(event.target));
    session.save(result.token, result.user);
    event.target.reset();
    forgetTasks();
    render();
    await showFirstPage();
  }));
  $('logout').addEventListener('click', guarded(async () => {
    // Logging out revokes the token: status.js must stop using it before it does.
    document.dispatchEvent(new CustomEvent('dashboard:session', { detail: { ending: true } }));
    try {
      await api('POST', `${API}/auth/logout`);
    } finally {
      session.clear();
      render();
      $('login-email').focus();
    }
  }));
  $('create-form').addEventListener('submit', guarded(async (event) => {
    await api('POST', `${API}/tasks`, formData(event.target));
    event.target.reset();
    await showFirstPage();
  }));
  $('filter-form').addEventListener('submit', guarded(showFirstPage));
  $('next-page').addEventListener('click', guarded(async () => {
    paging.cursors[paging.index + 1] = paging.next;
    await loadPage(paging.index + 1);
  }));
  $('prev-page').addEventListener('click', guarded(() => loadPage(paging.index - 1)));
  render();
  if (session.user) guarded(showFirstPage)();
});
