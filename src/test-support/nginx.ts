import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** nginxMissing says why nginx cannot run here, or null; CI never skips (scripts/test.mjs installs it). */
export function nginxMissing(): string | null {
  if (nginxBinary() !== null) return null;
  if (process.env.CI === 'true') throw new Error('nginx is missing; CI installs it (nginx-light) through npm test');
  return 'nginx is not installed (apt-get install nginx-light)';
}

/** nginxBinary is the path of the machine's nginx (Debian's is in /usr/sbin, often off a user's PATH), or null. */
export function nginxBinary(): string | null {
  const found = spawnSync('sh', ['-c', 'command -v nginx || { test -x /usr/sbin/nginx && echo /usr/sbin/nginx; }'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : null;
}

/** replaceOnce swaps one directive of a shipped file, failing loudly if the file no longer has exactly one. */
export function replaceOnce(text: string, pattern: RegExp, replacement: string): string {
  const found = text.match(new RegExp(pattern.source, `${pattern.flags.replace('g', '')}g`))?.length ?? 0;
  assert.equal(found, 1, `the shipped nginx file should have exactly one match for ${pattern}`);
  return text.replace(pattern, replacement);
}

/** The files nginx writes, relative to the root of a host: where the shipped nginx.conf puts them. */
export const NGINX_FILES = {
  pid: 'run/nginx.pid',
  errorLog: 'var/log/nginx/error.log',
  accessLog: 'var/log/nginx/access.log',
} as const;

/**
 * runnableNginxConf turns the shipped nginx.conf into one a test can run: every file nginx
 * writes moved under `prefix` (which stands for the host's /), the listen address a free port
 * on loopback, and no `user` unless root. Everything else is the shipped text.
 */
export function runnableNginxConf(conf: string, prefix: string, port: number): string {
  if (process.getuid?.() !== 0) conf = replaceOnce(conf, /^user [^;]+;$/m, '');
  conf = replaceOnce(conf, /^pid \/run\/nginx\.pid;$/m, `pid ${join(prefix, NGINX_FILES.pid)};`);
  conf = replaceOnce(conf, /error_log \/var\/log\/nginx\/error\.log/, `error_log ${join(prefix, NGINX_FILES.errorLog)}`);
  conf = replaceOnce(conf, /access_log \/var\/log\/nginx\/access\.log/, `access_log ${join(prefix, NGINX_FILES.accessLog)}`);
  conf = replaceOnce(conf, /listen 80 default_server;/, `listen 127.0.0.1:${port} default_server;`);
  // nginx's compiled-in temporary directories (Debian: /var/lib/nginx/*), under the prefix too.
  const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `    ${kind}_temp_path ${prefix}/var/lib/nginx/${kind};`);
  return replaceOnce(conf, /^http \{$/m, `http {\n${temps.join('\n')}`);
}

/** makeNginxDirs creates the directories runnableNginxConf points into, open to nginx's workers (www-data when run as root). */
export function makeNginxDirs(prefix: string): void {
  chmodSync(prefix, 0o755);
  for (const dir of ['run', 'var/log/nginx', 'var/lib/nginx']) mkdirSync(join(prefix, dir), { recursive: true, mode: 0o755 });
  for (const dir of ['var', 'var/log', 'var/lib']) chmodSync(join(prefix, dir), 0o755);
}
