import { readFileSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';

/**
 * childPids lists the live children of a process that run `executable` (node: the workers, not
 * a helper such as tsx's esbuild service), read from /proc (Linux).
 */
export function childPids(parent: number, executable: string = process.execPath): number[] {
  const exe = realpathSync(executable);
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command name is in parentheses and may hold spaces: the fields that follow are after the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === parent && state !== 'Z' && readlinkSync(`/proc/${entry}/exe`) === exe) children.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

/** groupAlive tells whether any process of a process group is still there. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

const TCP_STATES = { established: '01', closeWait: '08' } as const;

/** tcpSockets counts the TCP sockets a process holds open on a local port in one state (/proc/net/tcp{,6}). */
export function tcpSockets(pid: number, localPort: number, state: keyof typeof TCP_STATES): number {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`, { encoding: 'utf8' });
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode) inodes.add(inode);
    }
  } catch {
    return 0;
  }
  const port = localPort.toString(16).toUpperCase().padStart(4, '0');
  let count = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[1]?.endsWith(`:${port}`) && cols[3] === TCP_STATES[state] && inodes.has(cols[9] ?? '')) count++;
    }
  }
  return count;
}
