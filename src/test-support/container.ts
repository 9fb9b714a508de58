import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** What a command inside sees: a root shell's environment, nothing of the test runner's (NODE_ENV above all). */
const INSIDE_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', LANG: 'C.UTF-8', TERM: 'dumb' };
const BOOT_TIMEOUT_MS = 90_000;
/**
 * The reaper: a process of its own that outlives a test killed at its time limit (when no
 * after() hook runs) and then stops the container and removes its traces, as stop() would.
 */
const REAPER = `
while kill -0 "$OWNER" 2>/dev/null; do sleep 1; done
kill -TERM "$NSPAWN" 2>/dev/null
for _ in $(seq 60); do kill -0 "$NSPAWN" 2>/dev/null || break; sleep 0.5; done
kill -KILL "$NSPAWN" 2>/dev/null
umount "$ROOT" 2>/dev/null || umount -l "$ROOT"
rm -rf "$WORK" "/run/systemd/nspawn/propagate/$NAME" "/run/systemd/nspawn/unix-export/$NAME"
for d in "$@"; do find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done
`;
const POWEROFF_TIMEOUT_MS = 30_000;

export interface ExecResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

export interface Container {
  readonly name: string;
  /** The container's root as the host sees it: a file written here is there inside. */
  readonly root: string;
  /** The host's pid of the container's PID 1 (its systemd). */
  readonly pid1: number;
  /** exec runs a command in every namespace of the container, as root, and never rejects. */
  exec(argv: readonly string[], timeoutMs?: number): Promise<ExecResult>;
  /** sh runs a bash script inside with `set -euo pipefail`. */
  sh(script: string, timeoutMs?: number): Promise<ExecResult>;
  /** spawn starts a long-running command inside; kill the returned child to end it. */
  spawn(argv: readonly string[]): ChildProcess;
  /** console is what systemd printed on the container's console so far. */
  console(): string;
  /** stop powers the container off and removes every trace of it on the host. */
  stop(): Promise<void>;
}

export interface BootOptions {
  /** A root filesystem that is only read: the container boots an overlay of it. */
  readonly rootfs: string;
  /** prepare writes into the container's root before it boots (install.sh --destdir, settings). */
  readonly prepare?: (root: string) => void;
  /** Where the overlay's writable layer lives (default: a new directory under /var/tmp). */
  readonly workDir?: string;
}

/**
 * bootContainer boots systemd in a throwaway container: an overlay on the rootfs, systemd-nspawn
 * --boot in a cgroup of its own with a private network, driven from outside with nsenter. It
 * resolves once the container's systemd says the system is up.
 */
export async function bootContainer(options: BootOptions): Promise<Container> {
  const work = options.workDir ?? mkdtempSync('/var/tmp/backend-api-nspawn-');
  const root = join(work, 'root');
  for (const dir of ['upper', 'work', 'root']) mkdirSync(join(work, dir), { recursive: true });
  must('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${options.rootfs},upperdir=${join(work, 'upper')},workdir=${join(work, 'work')}`, root]);
  const name = `backend-api-test-${randomBytes(4).toString('hex')}`;
  const cgroups = ownCgroups(name);
  let nspawn: ChildProcess | undefined;
  let reaper: ChildProcess | undefined;
  let consoleText = '';

  const cleanup = async () => {
    reaper?.kill('SIGKILL');
    if (nspawn && nspawn.exitCode === null && nspawn.signalCode === null) {
      const exited = new Promise((resolve) => nspawn!.once('exit', resolve));
      nspawn.kill('SIGTERM'); // nspawn asks the container's systemd to power off
      if ((await Promise.race([exited, sleep(POWEROFF_TIMEOUT_MS).then(() => 'late')])) === 'late') {
        nspawn.kill('SIGKILL');
        await exited;
      }
    }
    if (spawnSync('umount', [root]).status !== 0) spawnSync('umount', ['-l', root]);
    rmSync(work, { recursive: true, force: true });
    for (const dir of cgroups) removeCgroup(dir);
    for (const entry of ['propagate', 'unix-export', 'incoming']) rmSync(join('/run/systemd/nspawn', entry, name), { recursive: true, force: true });
  };

  try {
    options.prepare?.(root);
    // The launcher moves itself into the cgroups made for this container, then becomes systemd-nspawn.
    const script =
      'for d in "$@"; do echo $$ > "$d/cgroup.procs" || exit 1; done; exec systemd-nspawn -D "$ROOT" --machine="$NAME" ' +
      '--boot --register=no --keep-unit --private-network --console=pipe --resolv-conf=off --timezone=off --link-journal=no';
    nspawn = spawn('sh', ['-c', script, 'launcher', ...cgroups], {
      env: { ...INSIDE_ENV, ROOT: root, NAME: name },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => (consoleText = (consoleText + chunk.toString()).slice(-200_000));
    nspawn.stdout!.on('data', keep);
    nspawn.stderr!.on('data', keep);
    reaper = spawn('sh', ['-c', REAPER, 'reaper', ...cgroups], {
      env: { ...INSIDE_ENV, OWNER: String(process.pid), NSPAWN: String(nspawn.pid), ROOT: root, WORK: work, NAME: name },
      detached: true,
      stdio: 'ignore',
    });
    reaper.unref();
    const pid1 = await containerInit(nspawn, () => consoleText);
    const container: Container = {
      name,
      root,
      pid1,
      exec: (argv, timeoutMs = 60_000) => execInside(pid1, argv, timeoutMs),
      sh: (script, timeoutMs = 60_000) => execInside(pid1, ['bash', '-c', `set -euo pipefail\n${script}`], timeoutMs),
      spawn: (argv) => spawn('nsenter', ['-t', String(pid1), '-a', ...argv], { env: INSIDE_ENV, stdio: ['ignore', 'pipe', 'pipe'] }),
      console: () => consoleText,
      stop: cleanup,
    };
    await systemUp(container);
    return container;
  } catch (error) {
    await cleanup();
    throw error;
  }
}

function must(command: string, args: string[]): void {
  const run = spawnSync(command, args, { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${run.stderr || run.error?.message}`);
}

/** ownCgroups makes the cgroup directories this container lives in: both v1 trees in hybrid mode, the one tree otherwise. */
function ownCgroups(name: string): string[] {
  const unifiedOnly = existsSync('/sys/fs/cgroup/cgroup.controllers');
  const trees = unifiedOnly ? ['/sys/fs/cgroup'] : ['/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified'].filter((tree) => existsSync(tree));
  return trees.map((tree) => {
    const dir = join(tree, name);
    mkdirSync(dir);
    return dir;
  });
}

/** removeCgroup removes a cgroup and what nspawn and the container's systemd left in it, deepest first. */
function removeCgroup(dir: string): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) removeCgroup(join(dir, entry.name));
  try {
    rmSync(dir, { recursive: false, force: true });
  } catch {
    spawnSync('rmdir', [dir]);
  }
}

/** containerInit waits for the container's PID 1: the child of systemd-nspawn. */
async function containerInit(nspawn: ChildProcess, output: () => string): Promise<number> {
  const deadline = Date.now() + BOOT_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (nspawn.exitCode !== null || nspawn.signalCode !== null) throw new Error(`systemd-nspawn exited (${nspawn.exitCode ?? nspawn.signalCode}):\n${output().slice(-3000)}`);
    for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid === nspawn.pid && stat.includes('(systemd)')) return Number(pid);
      } catch {
        // gone meanwhile
      }
    }
    await sleep(100);
  }
  throw new Error(`no container init after ${BOOT_TIMEOUT_MS} ms:\n${output().slice(-3000)}`);
}

/** systemUp waits until the container's systemd has finished booting (running, or degraded by a unit this test does not need). */
async function systemUp(container: Container): Promise<void> {
  const deadline = Date.now() + BOOT_TIMEOUT_MS;
  let state = '';
  while (Date.now() < deadline) {
    state = (await container.exec(['systemctl', 'is-system-running'], 10_000)).stdout.trim();
    if (state === 'running' || state === 'degraded') return;
    await sleep(200);
  }
  throw new Error(`the container's systemd is "${state}" after ${BOOT_TIMEOUT_MS} ms:\n${container.console().slice(-3000)}`);
}

function execInside(pid1: number, argv: readonly string[], timeoutMs: number): Promise<ExecResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile('nsenter', ['-t', String(pid1), '-a', ...argv], { env: INSIDE_ENV, timeout: timeoutMs, maxBuffer: 64 << 20, encoding: 'utf8' }, (error, stdout, stderr) => {
      const status = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ status, stdout, stderr: stderr || (status === 0 ? '' : String(error?.message)), ms: performance.now() - started });
    });
  });
}

/** writeInside writes a file into the container's root from the host, as root-owned with the given mode. */
export function writeInside(container: Pick<Container, 'root'>, path: string, content: string, mode = 0o644): void {
  mkdirSync(join(container.root, path, '..'), { recursive: true });
  writeFileSync(join(container.root, path), content, { mode });
}
