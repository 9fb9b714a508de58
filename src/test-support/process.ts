import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../assets.js';
import { testEnv } from './app.js';
import { freePort } from './free-port.js';

export interface ServerProcess {
  readonly child: ChildProcess;
  /** The primary's pid (the child's, unless a reaper stands between). */
  readonly pid: number;
  readonly dir: string;
  readonly port: number;
  readonly url: string;
  readonly env: Record<string, string>;
  /** Everything the process printed so far, stdout and stderr. */
  output(): string;
  /** The JSON log records printed so far. */
  records(): Array<Record<string, any>>;
  /** waitFor resolves with the first log record (already printed or to come) that matches. */
  waitFor(match: (record: Record<string, any>) => boolean, timeoutMs?: number): Promise<Record<string, any>>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** kill signals the primary alone. */
  kill(signal?: NodeJS.Signals): void;
  /** killGroup signals every process of the group, as a terminal or systemd's KillMode=control-group does (needs detached). */
  killGroup(signal: NodeJS.Signals): void;
}

/** sourceNodeArgs are node's arguments to run src/main.ts from source, from any working directory. */
export function sourceNodeArgs(): string[] {
  return ['--import', import.meta.resolve('tsx'), join(projectRoot, 'src/main.ts')];
}

export { freePort };

export interface StartOptions {
  readonly env?: Record<string, string>;
  readonly dir?: string;
  /** Start in a new process group, so the whole group can be signalled. */
  readonly detached?: boolean;
  readonly args?: readonly string[];
  /** Flags for node itself (workers inherit them), e.g. --cpu-prof. */
  readonly nodeArgs?: readonly string[];
  /** What node runs, before args (default: sourceNodeArgs(), the server from source). */
  readonly program?: readonly string[];
  /**
   * Run the primary under a subreaper that outlives it, so that the exit of every process of the
   * tree is seen, orphans included: each is a record {reaped: pid, code, signal}.
   */
  readonly reaper?: boolean;
  /** Wait for this log message before resolving (default: "primary ready"). */
  readonly readyMessage?: string | null;
}

/** startServerProcess runs `src/main.ts serve` as a real child process (primary + workers) on a free port. */
export async function startServerProcess(options: StartOptions = {}): Promise<ServerProcess> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'backend-api-proc-'));
  const port = await freePort();
  const env = testEnv(dir, { LOG_LEVEL: 'info', WORKERS: '2', PORT: String(port), ...options.env });
  const argv = [process.execPath, ...(options.nodeArgs ?? []), ...(options.program ?? sourceNodeArgs()), ...(options.args ?? ['serve'])];
  const [file, ...rest] = options.reaper ? ['python3', '-c', REAPER, ...argv] : argv;
  const child = spawn(file as string, rest, {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? dir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  let text = '';
  const parsed: Array<Record<string, any>> = [];
  const waiters: Array<{ match: (r: Record<string, any>) => boolean; resolve: (r: Record<string, any>) => void }> = [];
  let partial = '';
  const onData = (chunk: Buffer) => {
    text += chunk.toString();
    partial += chunk.toString();
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      try {
        const record = JSON.parse(line) as Record<string, any>;
        parsed.push(record);
        for (const waiter of [...waiters]) {
          if (waiter.match(record)) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve(record);
          }
        }
      } catch {
        // a line of something else
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );

  const waitFor = (match: (r: Record<string, any>) => boolean, timeoutMs = 30_000) => {
    const found = parsed.find(match);
    if (found) return Promise.resolve(found);
    return new Promise<Record<string, any>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for a log record; output so far:\n${text.slice(-4000)}`)), timeoutMs);
      waiters.push({ match, resolve: (r) => (clearTimeout(timer), resolve(r)) });
      void exited.then(() => setTimeout(() => reject(new Error(`process exited; output:\n${text.slice(-4000)}`)), 100));
    });
  };

  const pid = options.reaper ? ((await waitFor((r) => typeof r.primaryPid === 'number', 10_000)).primaryPid as number) : (child.pid as number);
  const alive = () => child.exitCode === null && child.signalCode === null;
  const proc: ServerProcess = {
    child,
    pid,
    dir,
    port,
    url: `http://127.0.0.1:${port}`,
    env,
    output: () => text,
    records: () => parsed,
    waitFor,
    exited,
    kill: (signal = 'SIGTERM') => {
      if (!alive()) return;
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    },
    killGroup: (signal) => {
      if (!options.detached) throw new Error('killGroup needs a server started with detached: true');
      try {
        process.kill(-(child.pid as number), signal);
      } catch {
        // the whole group is gone
      }
    },
  };
  const readyMessage = options.readyMessage === undefined ? 'primary ready' : options.readyMessage;
  if (readyMessage) await waitFor((r) => r.message === readyMessage);
  return proc;
}

/**
 * A subreaper (Linux prctl PR_SET_CHILD_SUBREAPER) that runs argv, prints {"primaryPid"}, then one
 * JSON line per process of the tree it reaps (orphaned workers too), and exits as the primary did.
 * It ignores the signals a test sends to the group: it stands in for the terminal or systemd.
 */
const REAPER = `
import ctypes, json, os, signal, subprocess, sys
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)
primary = subprocess.Popen(sys.argv[1:])
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
print(json.dumps({'primaryPid': primary.pid}), flush=True)
status = 1
while True:
    try:
        pid, raw = os.wait()
    except ChildProcessError:
        break
    code = os.waitstatus_to_exitcode(raw)
    print(json.dumps({'reaped': pid, 'code': code if code >= 0 else None, 'signal': signal.Signals(-code).name if code < 0 else None}), flush=True)
    if pid == primary.pid:
        status = code if code >= 0 else 128 - code
sys.exit(status)
`;
