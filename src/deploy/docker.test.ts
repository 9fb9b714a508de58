import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { RUNTIME } from '../../scripts/node-runtime.mjs';
import { format, validate, ValidationSeverity, type ValidatorSettings } from 'dockerfile-utils';
import { parse } from 'yaml';
import { projectRoot } from '../assets.js';
import { SETTINGS } from '../config.js';
import { settingsOf } from '../config-reader.js';

// No Docker engine runs the image here (nor in CI): these tests lint both files and check
// that their parts agree with each other and with the app, which is what breaks silently.
const DOCKERFILE = readFileSync(join(projectRoot, 'Dockerfile'), 'utf8');
const COMPOSE_TEXT = readFileSync(join(projectRoot, 'docker-compose.yml'), 'utf8');
const COMPOSE = parse(COMPOSE_TEXT) as { services: Record<string, any>; volumes: Record<string, unknown> };
const DCLINT = join(projectRoot, 'node_modules/dclint/bin/dclint.cjs');

/** Every rule dockerfile-utils can grade, graded as an error. */
const STRICT: ValidatorSettings = {
  deprecatedMaintainer: ValidationSeverity.ERROR,
  directiveCasing: ValidationSeverity.ERROR,
  emptyContinuationLine: ValidationSeverity.ERROR,
  instructionCasing: ValidationSeverity.ERROR,
  instructionCmdMultiple: ValidationSeverity.ERROR,
  instructionEntrypointMultiple: ValidationSeverity.ERROR,
  instructionHealthcheckMultiple: ValidationSeverity.ERROR,
  instructionJSONInSingleQuotes: ValidationSeverity.ERROR,
  instructionWorkdirRelative: ValidationSeverity.ERROR,
};

/** dockerfileLint returns dockerfile-utils' findings as "line: message". */
function dockerfileLint(text: string): string[] {
  return validate(text, STRICT).map((d) => `${d.range.start.line + 1}: ${d.message}`);
}

/** stages splits a Dockerfile into its build stages, each a list of [INSTRUCTION, arguments]. */
function stages(text: string): Array<Array<[string, string]>> {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const result: Array<Array<[string, string]>> = [];
  for (const line of lines) {
    const [, name = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    if (name.toUpperCase() === 'FROM') result.push([]);
    result.at(-1)?.push([name.toUpperCase(), args.replace(/\s+/g, ' ')]);
  }
  return result;
}

/** dclint runs the compose linter on a file and returns its findings as "line rule: message". */
function dclint(file: string): string[] {
  const run = spawnSync(process.execPath, [DCLINT, file, '--formatter', 'json'], { encoding: 'utf8', timeout: 60_000 });
  const [report] = JSON.parse(run.stdout) as Array<{ messages: Array<{ line: number; rule: string; message: string }> }>;
  return report!.messages.map((m) => `${m.line} ${m.rule}: ${m.message}`);
}

/** configVariables lists every environment variable of the configuration table. */
function configVariables(): Set<string> {
  return new Set(settingsOf(SETTINGS).map((setting) => setting.name));
}

describe('Dockerfile', () => {
  const [builder = [], runtime = []] = stages(DOCKERFILE);
  const args = (stage: Array<[string, string]>, name: string) => stage.filter(([n]) => n === name).map(([, a]) => a);
  const runtimeEnv = new Map(
    args(runtime, 'ENV').flatMap((a) => [...a.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g)].map((m) => [m[1]!, m[2]!.replace(/^"|"$/g, '')] as const)),
  );

  test('dockerfile-utils finds nothing, with every rule an error, and would format nothing', () => {
    assert.deepEqual(dockerfileLint(DOCKERFILE), []);
    assert.deepEqual(format(DOCKERFILE, { tabSize: 4, insertSpaces: true }), []);
  });

  test('…and does find a mistake planted in a copy (the check above is not blind)', () => {
    const broken = DOCKERFILE.replace('--interval=10s', '--interval=10').replace('WORKDIR /home/app', 'WORKDIR home/app');
    assert.equal(dockerfileLint(broken).length, 2, dockerfileLint(broken).join('\n'));
  });

  test('builds the single executable with the native toolchain, in two stages', () => {
    assert.equal(stages(DOCKERFILE).length, 2);
    // The build stage's Node installs node_modules for the major the executable embeds, so the build reuses that addon.
    assert.match(args(builder, 'FROM')[0]!, new RegExp(`^node:${RUNTIME.major}-bookworm-slim AS build$`));
    assert.match(args(builder, 'RUN').join('\n'), /install .*python3 make g\+\+/);
    assert.deepEqual(args(builder, 'RUN').slice(1), ['npm ci --no-audit --no-fund', 'npm run build']);
    assert.equal(JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')).scripts.build, 'node scripts/build.mjs');
    // The path the image copies is the one the build writes.
    assert.match(readFileSync(join(projectRoot, 'scripts/build.mjs'), 'utf8'), /const binary = join\(dist, 'backend-api'\);/);
    assert.deepEqual(args(runtime, 'COPY'), ['--from=build /src/dist/backend-api /usr/local/bin/backend-api']);
  });

  test('runs as a non-root user on 0.0.0.0:3000, the database on the /data volume, logs on stdout', () => {
    assert.match(args(runtime, 'FROM')[0]!, /^debian:bookworm-slim$/);
    const [user] = args(runtime, 'USER');
    assert.ok(user && !['root', '0'].includes(user), `USER ${user}`);
    assert.deepEqual(args(runtime, 'EXPOSE'), ['3000']);
    assert.deepEqual(args(runtime, 'VOLUME'), ['/data']);
    assert.deepEqual(args(runtime, 'STOPSIGNAL'), ['SIGTERM']);
    assert.equal(runtimeEnv.get('HOST'), '0.0.0.0');
    assert.equal(runtimeEnv.get('PORT'), '3000');
    assert.match(runtimeEnv.get('DATABASE_PATH')!, /^\/data\//);
    assert.equal(runtimeEnv.get('LOG_DIR'), '');
    assert.equal(runtimeEnv.get('NODE_ENV'), 'production');
    const known = configVariables();
    // XDG_CACHE_HOME is where the executable unpacks its SQLite addon (src/db/native-binding.ts).
    assert.deepEqual([...runtimeEnv.keys()].filter((name) => !known.has(name)), ['XDG_CACHE_HOME']);
    assert.deepEqual(args(runtime, 'ENTRYPOINT'), ['["/usr/local/bin/backend-api"]']);
    assert.deepEqual(args(runtime, 'CMD'), ['["serve"]']);
  });

  test('checks its health on /health, on the port it listens on', () => {
    const [healthcheck = ''] = args(runtime, 'HEALTHCHECK');
    assert.match(healthcheck, /CMD wget -q -O \/dev\/null "http:\/\/127\.0\.0\.1:\$\{PORT\}\/health"/);
    assert.match(healthcheck, /--start-period=\d+s/);
  });
});

describe('.dockerignore', () => {
  test('keeps local installs, builds, databases, logs and secrets out of the build context', () => {
    const ignored = readFileSync(join(projectRoot, '.dockerignore'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    for (const entry of ['node_modules', 'dist', 'data', 'logs', '.env', '*.db', '.git']) assert.ok(ignored.includes(entry), entry);
  });
});

describe('docker-compose.yml', () => {
  const { api, nginx, redis } = COMPOSE.services;
  const env = api.environment as Record<string, string | number>;

  test('dclint finds nothing', () => {
    assert.deepEqual(dclint(join(projectRoot, 'docker-compose.yml')), []);
  });

  test('…and does find a mistake planted in a copy (the check above is not blind)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'backend-api-compose-'));
    try {
      const file = join(dir, 'docker-compose.yml');
      writeFileSync(file, COMPOSE_TEXT.replace('image: nginx:1.28-bookworm', 'image: nginx:latest'));
      assert.match(dclint(file).join('\n'), /service-image-require-explicit-tag/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('has api, nginx and redis, each with a healthcheck, restarted unless stopped', () => {
    assert.deepEqual(Object.keys(COMPOSE.services).sort(), ['api', 'nginx', 'redis']);
    for (const [name, service] of Object.entries(COMPOSE.services)) {
      assert.equal(service.healthcheck?.test?.[0], 'CMD', `${name} healthcheck`);
      assert.equal(service.restart, 'unless-stopped', name);
    }
    assert.match(api.healthcheck.test.join(' '), new RegExp(`http://127\\.0\\.0\\.1:${env.PORT}/health`));
    assert.match(nginx.healthcheck.test.join(' '), /\/health/);
    assert.deepEqual(redis.healthcheck.test, ['CMD', 'redis-cli', 'ping']);
  });

  test('scales the api: replicas, no fixed container name, no published port, one shared data volume', () => {
    assert.ok(api.deploy.replicas >= 2);
    assert.equal(api.container_name, undefined);
    assert.equal(api.ports, undefined);
    assert.deepEqual(api.expose, [String(env.PORT)]);
    assert.ok('data' in COMPOSE.volumes);
    assert.deepEqual(api.volumes, ['data:/data']);
    assert.match(String(env.DATABASE_PATH), /^\/data\/[^/]+$/);
    assert.equal(api.build, '.');
  });

  test('the api environment uses only variables src/config.ts reads, wired to the other services', () => {
    const known = configVariables();
    assert.deepEqual(Object.keys(env).filter((name) => !known.has(name)), []);
    assert.equal(env.NODE_ENV, 'production');
    assert.match(String(env.JWT_SECRET), /^\$\{JWT_SECRET:\?/, 'compose refuses to start without a secret');
    assert.equal(env.HOST, '0.0.0.0');
    assert.equal(env.LOG_DIR, '');
    assert.equal(env.REDIS_URL, 'redis://redis:6379');
    assert.equal(api.depends_on.redis.condition, 'service_healthy');
    assert.match(String(env.TRUST_PROXY), /uniquelocal/, 'nginx reaches the api from a private address');
  });

  test("nginx runs the shipped nginx.conf, its upstream names the api service's port, and it waits for a healthy api", () => {
    assert.ok(nginx.volumes.includes('./nginx/nginx.conf:/etc/nginx/nginx.conf:ro'));
    assert.ok(nginx.volumes.includes('./nginx/backend-api-upstream.docker.conf:/etc/nginx/backend-api-upstream.conf:ro'));
    assert.match(readFileSync(join(projectRoot, 'nginx/nginx.conf'), 'utf8'), /^\s*include backend-api-upstream\.conf;$/m);
    const upstream = readFileSync(join(projectRoot, 'nginx/backend-api-upstream.docker.conf'), 'utf8');
    assert.match(upstream, new RegExp(`^server api:${env.PORT} `, 'm'));
    assert.match(upstream, /^resolver 127\.0\.0\.11 /m);
    assert.match(nginx.image, /^nginx:1\.(2[89]|[3-9]\d)/, 'the upstream `resolve` parameter needs nginx 1.27.3 or later');
    assert.equal(nginx.depends_on.api.condition, 'service_healthy');
    assert.deepEqual(nginx.ports, ['0.0.0.0:${HTTP_PORT:-8080}:80']);
  });

  test('stops the api gracefully: tini forwards SIGTERM, and the grace period outlasts the drain', () => {
    assert.equal(api.init, true);
    const shutdownSeconds = Number(env.SHUTDOWN_TIMEOUT ?? 10);
    assert.ok(parseInt(api.stop_grace_period, 10) > shutdownSeconds + 2, `stop_grace_period ${api.stop_grace_period}`);
  });
});
