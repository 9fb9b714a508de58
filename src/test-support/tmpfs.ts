import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statfsSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServerProcess, type ServerProcess } from './process.js';

/** tmpfsMissing says why a test cannot mount a small filesystem here (not root), or null; CI never skips. */
export function tmpfsMissing(): string | null {
  if (process.getuid?.() === 0) return null;
  if (process.env.CI === 'true') throw new Error('the full-disk tests mount tmpfs and need root; CI runs them as root');
  return 'mounting a tmpfs needs root';
}

/** A small filesystem of its own, to run out of space on purpose. */
export interface SmallDisk {
  readonly dir: string;
  /** fill writes one file until the filesystem is full (ENOSPC), and returns its size. */
  fill(): number;
  /** free deletes that file. */
  free(): void;
  /** availableBytes is what statfs says is left. */
  availableBytes(): number;
  unmount(): void;
}

/** mountSmallDisk mounts a tmpfs of `bytes` at dir (created if needed); unmount it in the test's cleanup. */
export function mountSmallDisk(dir: string, bytes: number): SmallDisk {
  mkdirSync(dir, { recursive: true });
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0755`, 'tmpfs', dir], { encoding: 'utf8' });
  if (mounted.status !== 0) throw new Error(`mount tmpfs on ${dir} failed: ${mounted.stderr}`);
  const filler = join(dir, 'filler');
  return {
    dir,
    fill() {
      const fd = openSync(filler, 'a');
      let size = 0;
      try {
        for (const chunk of [1 << 20, 1 << 16, 1 << 12, 1 << 9, 1]) {
          const buffer = Buffer.alloc(chunk, 0x78);
          for (;;) {
            try {
              size += writeSync(fd, buffer);
            } catch (error) {
              if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
              break;
            }
          }
        }
      } finally {
        closeSync(fd);
      }
      return size;
    },
    free: () => unlinkSync(filler),
    availableBytes() {
      const stats = statfsSync(dir);
      return stats.bavail * stats.bsize;
    },
    unmount() {
      // Lazy: a server that still holds a file open there must not keep the mount.
      spawnSync('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A server process whose data or log directory is a small disk of its own. */
export interface ServerOnSmallDisk {
  readonly server: ServerProcess;
  readonly disk: SmallDisk;
  /** stop kills the server (if still running) and unmounts the disk. */
  stop(): Promise<void>;
}

/**
 * serverOnSmallDisk starts a 2-worker server in a fresh directory whose `sub` directory (`data`
 * holds the database, `logs` is LOG_DIR=logs) is a tmpfs of `bytes`.
 */
export async function serverOnSmallDisk(sub: 'data' | 'logs', bytes: number, env: Record<string, string> = {}): Promise<ServerOnSmallDisk> {
  const dir = mkdtempSync(join(tmpdir(), `backend-api-${sub}disk-`));
  const disk = mountSmallDisk(join(dir, sub), bytes);
  try {
    const server = await startServerProcess({ dir, env: { ...(sub === 'logs' ? { LOG_DIR: 'logs' } : {}), ...env } });
    return {
      server,
      disk,
      async stop() {
        server.kill('SIGKILL');
        await server.exited;
        disk.unmount();
      },
    };
  } catch (error) {
    disk.unmount();
    throw error;
  }
}
