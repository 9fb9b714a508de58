// What the bench measures. Each scenario names the requests, which of our servers answers them
// (the response cache on, as in production, or off, to compare like for like with references
// that read SQLite on every request) and whether the references and the WORKERS-unset server run it.
// Reads come before writes: the rows a write scenario adds are removed only between rounds.
import { TASK_ID, USER } from './seed.mjs';

const TASKS = '/api/v1/tasks';
const json = { 'content-type': 'application/json' };
const bearer = (token) => ({ authorization: `Bearer ${token}` });
const createBody = JSON.stringify({ title: 'A task the bench created' });
const loginBody = JSON.stringify({ email: USER.email, password: USER.password });

/** The references, in the order each round runs them after ours. */
export const REFERENCES = ['raw', 'express', 'fastify'];

/**
 * SCENARIOS, in the order a round runs them. `ours` picks our server: 'cached' (production) or
 * 'uncached' (CACHE_ENABLED=false); `targets`, when given, lists the scenario's own targets. `request(target, tokens)` gives autocannon's request options.
 * `sameBody`: every target must answer with our bytes (the bench warns otherwise).
 */
export const SCENARIOS = [
  {
    name: 'hot-list',
    sameBody: true,
    title: 'hot list: GET /api/v1/tasks repeated (ours: X-Cache HIT; references: a body serialized once)',
    ours: 'cached',
    references: true,
    expectHeader: ['x-cache', 'HIT'],
    request: (target, { userToken }) => ({ method: 'GET', path: target.startsWith('ours') ? TASKS : '/hot', headers: bearer(userToken) }),
  },
  {
    name: 'rate-limit',
    sameBody: true,
    title: 'hot list with the global rate limit: off (ours), counted in the primary (limited), and with Redis for cache and limits, off (redis) and on (limited-redis)',
    ours: 'cached',
    targets: ['ours', 'limited', 'redis', 'limited-redis'],
    expectHeader: ['x-cache', 'HIT'],
    request: (_target, { userToken }) => ({ method: 'GET', path: TASKS, headers: bearer(userToken) }),
  },
  {
    name: 'list-sqlite',
    sameBody: true,
    title: 'list from SQLite: GET /api/v1/tasks, ours with CACHE_ENABLED=false',
    ours: 'uncached',
    references: true,
    request: (_target, { userToken }) => ({ method: 'GET', path: TASKS, headers: bearer(userToken) }),
  },
  {
    name: 'get-one',
    sameBody: true,
    title: `get one: GET /api/v1/tasks/${TASK_ID}, ours with CACHE_ENABLED=false`,
    ours: 'uncached',
    references: true,
    request: (_target, { userToken }) => ({ method: 'GET', path: `${TASKS}/${TASK_ID}`, headers: bearer(userToken) }),
  },
  {
    name: 'login',
    title: 'login: POST /api/v1/auth/login (bcrypt), 2 connections per worker',
    ours: 'cached',
    references: false,
    connections: (workers) => 2 * workers,
    // Logins at the production cost take a third of a second each: too few fit in a 1 s smoke run.
    minSeconds: 2,
    // bcrypt has nothing to warm up.
    warmup: false,
    request: () => ({ method: 'POST', path: '/api/v1/auth/login', headers: json, body: loginBody }),
  },
  {
    name: 'reads-during-logins',
    title: 'list from SQLite on 1 worker, alone and while 2 connections log in without pause; pinned to one core, then on all cores (-all-cores)',
    ours: 'uncached',
    references: false,
    multi: false,
    contention: true,
    request: (_target, { userToken }) => ({ method: 'GET', path: TASKS, headers: bearer(userToken) }),
    background: () => ({ method: 'POST', path: '/api/v1/auth/login', headers: json, body: loginBody, connections: 2 }),
  },
  {
    name: 'create',
    title: 'create: POST /api/v1/tasks {title} (one BEGIN IMMEDIATE transaction each)',
    ours: 'cached',
    references: true,
    request: (_target, { adminToken }) => ({ method: 'POST', path: TASKS, headers: { ...json, ...bearer(adminToken) }, body: createBody }),
  },
  {
    name: 'mix-90-10',
    title: '90/10 read/write: 9 lists then 1 create, per connection (ours with its cache on)',
    ours: 'cached',
    references: true,
    request: (_target, { userToken, adminToken }) => ({
      requests: [
        ...Array.from({ length: 9 }, () => ({ method: 'GET', path: TASKS, headers: bearer(userToken) })),
        { method: 'POST', path: TASKS, headers: { ...json, ...bearer(adminToken) }, body: createBody },
      ],
    }),
  },
];

/**
 * targetsOf lists who runs a scenario in each round: ours (1 worker), the references, ours with
 * WORKERS unset. The contention scenario runs its worker pinned to one core, where its bcrypt
 * thread can only take turns with it, and (when pinning is possible) on every core as well.
 */
export function targetsOf(scenario, defaultWorkers, pinning) {
  if (scenario.targets) return scenario.targets;
  if (scenario.contention) return ['alone', 'with-logins', ...(pinning ? ['alone-all-cores', 'with-logins-all-cores'] : [])];
  return [
    'ours',
    ...(scenario.references ? REFERENCES : []),
    ...(scenario.multi !== false && defaultWorkers > 1 ? ['ours-default'] : []),
  ];
}
