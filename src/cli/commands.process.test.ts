import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../config.js';
import { openDatabase } from '../db/database.js';
import { schemaVersion } from '../db/migrations.js';
import { createLogger } from '../logging/logger.js';
import { singleProcess } from '../process/model.js';
import { serve } from '../server.js';
import { ApiClient } from '../test-support/client.js';
import { testEnv } from '../test-support/app.js';
import { sourceNodeArgs } from '../test-support/process.js';
import { VERSION } from '../version.js';

const PASSWORD = 'correct horse battery';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'backend-api-cli-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** cli runs `src/main.ts <args>` as the operator would, in its own environment. */
function cli(args: string[], env: Record<string, string>, input = '') {
  const run = spawnSync(process.execPath, [...sourceNodeArgs(), ...args], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', HOME: dir, ...env },
    input,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** freshEnv is a test environment on a database of its own. */
function freshEnv(name: string): Record<string, string> {
  return testEnv(join(dir, name), { LOG_LEVEL: 'error' });
}

describe('the command line', () => {
  test('--version prints the version and the runtime\'s, --help names every command, an unknown command exits 2', () => {
    const env = freshEnv('help');
    assert.deepEqual(cli(['--version'], env), { status: 0, stdout: `backend-api ${VERSION}, Node.js ${process.version}\n`, stderr: '' });
    const help = cli(['--help'], env);
    assert.equal(help.status, 0);
    for (const command of ['serve', 'migrate', 'create-admin', 'backup', 'check-config', '--version', '--help']) assert.match(help.stdout, new RegExp(`^  ${command}`, 'm'));
    const unknown = cli(['frobnicate'], env);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
  });

  test('check-config prints the settings and never the secret; a bad environment lists every problem and exits 78', () => {
    const env = freshEnv('config');
    const run = cli(['check-config'], { ...env, METRICS_TOKEN: 'metrics-token-0123456789' });
    assert.equal(run.status, 0, run.stderr);
    const printed = JSON.parse(run.stdout);
    assert.equal(printed.jwt.secret, '[set]');
    assert.equal(printed.metricsToken, '[set]');
    assert.equal(printed.database.path, env.DATABASE_PATH);
    assert.ok(!run.stdout.includes(env.JWT_SECRET!) && !run.stderr.includes(env.JWT_SECRET!));
    assert.ok(!run.stdout.includes('metrics-token-0123456789'));

    const bad = cli(['check-config'], { ...env, PORT: 'eighty', WORKERS: '0' });
    assert.equal(bad.status, 78);
    assert.match(bad.stderr, /PORT must be an integer/);
    assert.match(bad.stderr, /WORKERS must be an integer/);
    assert.ok(!bad.stderr.includes(env.JWT_SECRET!));
  });

  test('--env-file: check-config reads the settings a unit would, the file winning over the environment', () => {
    const env = freshEnv('env-file');
    const file = join(dir, 'service.env');
    const secret = 'file-secret-0123456789-0123456789-0123456789';
    writeFileSync(file, `# like /etc/backend-api/backend-api.env\nJWT_SECRET=${secret}\nPORT=4321\nNODE_ENV=production\n`, { mode: 0o600 });
    for (const args of [['check-config', '--env-file', file], [`--env-file=${file}`, 'check-config'], ['--env-file', file, 'check-config']]) {
      const run = cli(args, { ...env, PORT: '1111' });
      assert.equal(run.status, 0, run.stderr);
      const printed = JSON.parse(run.stdout);
      assert.deepEqual([printed.port, printed.env, printed.jwt.secretSource, printed.jwt.secret], [4321, 'production', 'env', '[set]']);
      assert.ok(!run.stdout.includes(secret));
    }
    // Later files win, as several EnvironmentFile= lines do.
    const second = join(dir, 'override.env');
    writeFileSync(second, 'PORT=5432\n');
    assert.equal(JSON.parse(cli(['check-config', '--env-file', file, '--env-file', second], env).stdout).port, 5432);

    // --environment-file is the same option under the name Node does not watch.
    const named = cli(['check-config', '--environment-file', file, `--environment-file=${second}`], env);
    assert.equal(named.status, 0, named.stderr);
    assert.deepEqual([JSON.parse(named.stdout).port, JSON.parse(named.stdout).env], [5432, 'production']);
  });

  test('--environment-file that cannot be read: a message that says why, and exit 78 before anything runs', () => {
    const env = freshEnv('env-file-missing');
    const unreadable = [
      [join(dir, 'no-such.env'), /cannot read the settings file .*no-such\.env: no such file$/m],
      [dir, /cannot read the settings file .*: it is a directory$/m],
    ] as const;
    for (const command of ['check-config', 'serve', 'migrate', 'backup']) {
      for (const [path, message] of unreadable) {
        const run = cli([command, '--environment-file', path, ...(command === 'backup' ? [join(dir, 'never.db')] : [])], env);
        assert.equal(run.status, 78, `${command}: ${run.status} ${run.stderr}`);
        assert.match(run.stderr, message);
      }
    }
    assert.ok(!existsSync(env.DATABASE_PATH!) && !existsSync(join(dir, 'never.db')), 'nothing was opened or written');
    // Node's own check of --env-file runs before ours and cannot be caught: it stops with status 9.
    const nodes = cli(['check-config', '--env-file', join(dir, 'no-such.env')], env);
    assert.deepEqual([nodes.status, /no-such\.env: not found/.test(nodes.stderr)], [9, true], nodes.stderr);
    assert.equal(cli(['check-config', '--environment-file'], env).status, 2);
    assert.equal(cli(['check-config', '--env-file'], env).status, 2);
    const bad = join(dir, 'bad.env');
    writeFileSync(bad, 'NODE_ENV=production\nJWT_SECRET=\n');
    const refused = cli(['check-config', '--env-file', bad], env);
    assert.equal(refused.status, 78, 'the file empties the environment\'s JWT_SECRET');
    assert.match(refused.stderr, /JWT_SECRET is required in production/);
  });

  test('check-config writes nothing: in development without JWT_SECRET it says serve will make the secret file', () => {
    const env = freshEnv('dev-check');
    delete env.JWT_SECRET;
    const run = cli(['check-config'], { ...env, NODE_ENV: 'development' });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout).jwt.secretSource, 'pending');
    assert.ok(!existsSync(join(dir, 'dev-check')), 'no data directory, no jwt-secret');
    assert.deepEqual(readdirSync(dir).filter((name) => name.startsWith('dev-check')), []);

    // Once there, the file is read (and checked) as serve would read it.
    mkdirSync(join(dir, 'dev-check', 'data'), { recursive: true });
    writeFileSync(join(dir, 'dev-check', 'data', 'jwt-secret'), 'short');
    const short = cli(['check-config'], { ...env, NODE_ENV: 'development' });
    assert.equal(short.status, 78);
    assert.match(short.stderr, /jwt-secret holds a secret shorter than 32 bytes/);
  });

  test('migrate, create-admin and backup neither demand JWT_SECRET in production nor write a development secret', () => {
    const env = freshEnv('no-secret');
    delete env.JWT_SECRET;
    for (const nodeEnv of ['production', 'development']) {
      const settings = { ...env, NODE_ENV: nodeEnv };
      assert.equal(cli(['migrate'], settings).status, 0);
      const admin = cli(['create-admin', `root-${nodeEnv}`, `root-${nodeEnv}@example.com`], settings, PASSWORD);
      assert.equal(admin.status, 0, admin.stderr);
      const backup = cli(['backup', join(dir, `no-secret-${nodeEnv}.db`)], settings);
      assert.equal(backup.status, 0, backup.stderr);
    }
    assert.ok(!existsSync(join(dir, 'no-secret', 'data', 'jwt-secret')));
    const serve = cli(['serve'], { ...env, NODE_ENV: 'production' });
    assert.equal(serve.status, 78);
    assert.match(serve.stderr, /JWT_SECRET is required in production/);
  });

  test('run as root, the commands leave every file in a state directory to the directory\'s owner', (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root, as an operator with sudo');
    const state = join(dir, 'state');
    mkdirSync(state, { mode: 0o700 });
    chownSync(state, 65534, 65534);
    const env = { ...freshEnv('state'), DATABASE_PATH: join(state, 'app.db'), NODE_ENV: 'production' };
    delete (env as Record<string, string | undefined>).JWT_SECRET;
    assert.equal(cli(['migrate'], env).status, 0);
    assert.equal(cli(['create-admin', 'root', 'root@example.com'], env, PASSWORD).status, 0);
    const owners = () => readdirSync(state).map((name) => `${name}:${statSync(join(state, name)).uid}`);
    assert.deepEqual(owners(), ['app.db:65534']);
    // A connection holding the WAL open while the backup runs, its -wal and -shm made by root here.
    const holder = new Database(env.DATABASE_PATH);
    try {
      holder.prepare("INSERT INTO tasks (title, created_at, updated_at) VALUES ('x', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')").run();
      const backup = cli(['backup', join(dir, 'state-backup.db')], env);
      assert.equal(backup.status, 0, backup.stderr);
      assert.deepEqual(owners().sort(), ['app.db-shm:65534', 'app.db-wal:65534', 'app.db:65534']);
    } finally {
      holder.close();
    }
    assert.equal(statSync(join(dir, 'state-backup.db')).uid, 0, "the copy is root's own");
  });

  test('migrate creates the schema once and then reports it up to date', () => {
    const env = freshEnv('migrate');
    const first = cli(['migrate'], env);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, new RegExp(`schema migrated from version 0 to ${schemaVersion}`));
    const second = cli(['migrate'], env);
    assert.match(second.stdout, new RegExp(`schema up to date \\(version ${schemaVersion}\\)`));
    const db = new Database(env.DATABASE_PATH!, { readonly: true });
    assert.equal(db.pragma('user_version', { simple: true }), schemaVersion);
    db.close();
  });
});

describe('create-admin', () => {
  const env = () => freshEnv('admin');

  test('creates an administrator from a password on stdin, who can then log in and use admin routes', async () => {
    const created = cli(['create-admin', 'root', 'root@example.com'], env(), `${PASSWORD}\n`);
    assert.equal(created.status, 0, created.stderr);
    const user = JSON.parse(created.stdout);
    assert.deepEqual([user.username, user.email, user.role], ['root', 'root@example.com', 'admin']);
    assert.ok(!created.stdout.includes(PASSWORD) && !created.stderr.includes(PASSWORD));

    const config = loadConfig(env(), 'test');
    const db = openDatabase(config.database.path, config.database);
    const logger = createLogger(config, { console: false, files: false });
    const running = await serve({ config, logger, db, model: singleProcess() });
    try {
      const api = new ApiClient(`http://127.0.0.1:${running.port}`);
      const login = await api.post('/api/v1/auth/login', { json: { email: 'root@example.com', password: PASSWORD } });
      assert.equal(login.status, 200);
      assert.equal(login.body.user.role, 'admin');
      const users = await api.get('/api/v1/users', { token: login.body.token });
      assert.equal(users.status, 200);
    } finally {
      await running.drain('test done');
      logger.close();
    }
  });

  test('takes --username and --email flags, and refuses a taken username', () => {
    const second = cli(['create-admin', '--username', 'ops', '--email', 'ops@example.com'], env(), PASSWORD);
    assert.equal(second.status, 0, second.stderr);
    const taken = cli(['create-admin', 'ops', 'other@example.com'], env(), PASSWORD);
    assert.equal(taken.status, 1);
    assert.match(taken.stderr, /username is taken/);
  });

  test('refuses a password on the command line, a missing one, and one openapi.yaml would refuse', () => {
    const flag = cli(['create-admin', 'eve', 'eve@example.com', '--password', PASSWORD], env());
    assert.equal(flag.status, 2);
    assert.match(flag.stderr, /never taken from the command line/);
    const none = cli(['create-admin', 'eve', 'eve@example.com'], env(), '');
    assert.equal(none.status, 2);
    assert.match(none.stderr, /no password on stdin/);
    const weak = cli(['create-admin', 'e', 'not-an-email'], env(), 'short\n');
    assert.equal(weak.status, 1);
    assert.match(weak.stderr, /username: must NOT have fewer than 3 characters/);
    assert.match(weak.stderr, /email: must match format "email"/);
    assert.match(weak.stderr, /password: must NOT have fewer than 8 characters/);
    const missingEmail = cli(['create-admin', 'eve'], env(), PASSWORD);
    assert.equal(missingEmail.status, 2);
  });

  test('on a terminal it asks twice and echoes nothing of what is typed', (t) => {
    if (spawnSync('python3', ['--version']).status !== 0) return t.skip('python3 (for a pseudo-terminal) is missing');
    const run = spawnSync('python3', ['-c', PTY_DRIVER, process.execPath, ...sourceNodeArgs(), 'create-admin', 'tty', 'tty@example.com'], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', HOME: dir, ...env(), TYPED: PASSWORD },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /Password: /);
    assert.match(run.stdout, /Repeat the password: /);
    assert.match(run.stdout, /"username":"tty"/);
    assert.ok(!run.stdout.includes(PASSWORD), run.stdout);
  });
});

/** Runs argv on a pseudo-terminal, types $TYPED at each prompt, prints the whole screen, exits as the child did. */
const PTY_DRIVER = `
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
screen, prompts = b'', 0
while True:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    screen += chunk
    if screen.count(b'password: ') + screen.count(b'Password: ') > prompts:
        prompts += 1
        os.write(fd, os.environ['TYPED'].encode() + b'\\r')
sys.stdout.write(screen.decode(errors='replace'))
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
`;

describe('backup', () => {
  const env = () => freshEnv('backup');

  before(() => {
    const run = cli(['create-admin', 'root', 'root@example.com'], env(), PASSWORD);
    assert.equal(run.status, 0, run.stderr);
    const db = new Database(env().DATABASE_PATH!);
    const insert = db.prepare("INSERT INTO tasks (title, created_at, updated_at) VALUES (?, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')");
    for (let i = 0; i < 200; i++) insert.run(`task ${i}`);
    db.close();
  });

  test('copies the database to a private single file that passes integrity_check and holds the data', () => {
    const file = join(dir, 'backup-1.db');
    const run = cli(['backup', file], env());
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /integrity_check ok/);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.ok(!existsSync(`${file}-wal`) && !existsSync(`${file}-shm`));
    const copy = new Database(file, { readonly: true });
    assert.equal(copy.pragma('integrity_check', { simple: true }), 'ok');
    assert.equal(copy.pragma('journal_mode', { simple: true }), 'delete');
    assert.equal((copy.prepare('SELECT count(*) AS n FROM tasks').get() as { n: number }).n, 200);
    assert.equal((copy.prepare("SELECT role FROM users WHERE username = 'root'").get() as { role: string }).role, 'admin');
    copy.close();
  });

  test('never overwrites a file, and needs exactly one target', () => {
    const file = join(dir, 'precious.db');
    writeFileSync(file, 'do not touch');
    const run = cli(['backup', file], env());
    assert.equal(run.status, 1);
    assert.match(run.stderr, /exists; a backup never overwrites a file/);
    assert.equal(readFileSync(file, 'utf8'), 'do not touch');
    assert.equal(cli(['backup'], env()).status, 2);
    assert.equal(cli(['backup', 'a.db', 'b.db'], env()).status, 2);
  });

  test('a damaged database gives a copy that fails integrity_check: exit 1, the findings, no copy left', () => {
    const damaged = testEnv(join(dir, 'damaged'), { LOG_LEVEL: 'error' });
    const source = env().DATABASE_PATH!;
    const db = new Database(source);
    db.pragma('wal_checkpoint(TRUNCATE)');
    const root = db.prepare("SELECT rootpage FROM sqlite_schema WHERE name = 'tasks_title'").pluck().get() as number;
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    db.close();
    // One key of the title index no longer matches its row: the kind of damage integrity_check exists for.
    const bytes = readFileSync(source);
    const page = bytes.subarray((root - 1) * pageSize, root * pageSize);
    const at = page.indexOf('task 1');
    assert.ok(at > 0, 'the index page holds the titles');
    page[at] = 'T'.charCodeAt(0);
    assert.equal(cli(['migrate'], damaged).status, 0);
    writeFileSync(damaged.DATABASE_PATH!, bytes);

    const file = join(dir, 'backup-damaged.db');
    const run = cli(['backup', file], damaged);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /failed integrity_check/);
    assert.match(run.stderr, /missing from index tasks_title|wrong # of entries in index tasks_title/);
    assert.ok(!existsSync(file));
  });
});
