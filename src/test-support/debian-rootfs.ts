import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** Where built root filesystems are kept between runs: outside any clone, one directory per recipe. */
export const ROOTFS_CACHE = '/var/cache/backend-api-test';
/** What the unit and the tests need inside: systemd as PID 1, /bin/kill (procps), curl, and sudo for the README's lines. */
const PACKAGES = ['systemd', 'systemd-sysv', 'dbus', 'procps', 'curl', 'sudo'];
/** debootstrap of a minimal Debian takes ~75-110 s here; a cold CI machine may be slower. */
const DEBOOTSTRAP_TIMEOUT_MS = 600_000;

export interface AptSource {
  readonly uri: string;
  readonly suites: readonly string[];
  /** The keyring the machine's apt checks this source with (Signed-By), when it says. */
  readonly keyring: string | null;
}

export interface RootfsRecipe {
  readonly codename: string;
  readonly mirror: string;
  readonly keyring: string | null;
  readonly packages: readonly string[];
}

/** hostCodename is the Debian release this machine runs: the container runs the same, so the executable built here runs there. */
export function hostCodename(osRelease = readFileSync('/etc/os-release', 'utf8')): string {
  const codename = /^VERSION_CODENAME="?([a-z]+)"?$/m.exec(osRelease)?.[1];
  if (!codename) throw new Error('/etc/os-release names no VERSION_CODENAME');
  return codename;
}

/** parseAptSources reads the `deb` entries of a sources.list (one-line) or a .sources (deb822) file. */
export function parseAptSources(text: string, deb822: boolean): AptSource[] {
  if (!deb822) {
    return text
      .split('\n')
      .map((line) => /^\s*deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)/.exec(line))
      .filter((m) => m !== null)
      .map((m) => ({ uri: m[2]!, suites: [m[3]!], keyring: /signed-by=(\S+)/.exec(m[1] ?? '')?.[1] ?? null }));
  }
  return text
    .split(/\n\s*\n/)
    .map((stanza) => {
      const fields = new Map<string, string>();
      for (const m of stanza.matchAll(/^([A-Za-z-]+):[ \t]*(.*)$/gm)) fields.set(m[1]!.toLowerCase(), m[2]!.trim());
      return fields;
    })
    .filter((f) => (f.get('types') ?? '').split(/\s+/).includes('deb') && !/^(no|false)$/i.test(f.get('enabled') ?? 'yes'))
    .flatMap((f) =>
      (f.get('uris') ?? '')
        .split(/\s+/)
        .filter(Boolean)
        .map((uri) => ({ uri, suites: (f.get('suites') ?? '').split(/\s+/).filter(Boolean), keyring: f.get('signed-by') || null })),
    );
}

/** machineAptSources lists every `deb` source this machine's apt uses. */
export function machineAptSources(dir = '/etc/apt'): AptSource[] {
  const sources: AptSource[] = [];
  if (existsSync(join(dir, 'sources.list'))) sources.push(...parseAptSources(readFileSync(join(dir, 'sources.list'), 'utf8'), false));
  const parts = join(dir, 'sources.list.d');
  for (const file of existsSync(parts) ? readdirSync(parts).sort() : []) {
    if (file.endsWith('.list') || file.endsWith('.sources')) sources.push(...parseAptSources(readFileSync(join(parts, file), 'utf8'), file.endsWith('.sources')));
  }
  return sources;
}

/** debianRecipe picks, from the machine's own apt sources, the mirror that carries its release: no registry host is written here. */
export function debianRecipe(sources = machineAptSources(), codename = hostCodename()): RootfsRecipe {
  const source = sources.find((s) => s.suites.includes(codename));
  if (!source) throw new Error(`no apt source of this machine carries the suite ${codename}`);
  return { codename, mirror: source.uri, keyring: source.keyring, packages: PACKAGES };
}

/** recipeKey names a recipe's build: every input of debootstrap, hashed. */
export function recipeKey(recipe: RootfsRecipe): string {
  return createHash('sha256').update(JSON.stringify(recipe)).digest('hex').slice(0, 16);
}

/**
 * cachedRootfs returns a minimal Debian root filesystem with systemd, built with debootstrap on
 * first use and kept under ROOTFS_CACHE. Callers boot copies (an overlay), never the cache itself.
 * Two runs building at once each build their own and the first rename wins.
 */
export function cachedRootfs(recipe: RootfsRecipe = debianRecipe(), cache = ROOTFS_CACHE): string {
  const target = join(cache, `rootfs-${recipe.codename}-${recipeKey(recipe)}`);
  if (existsSync(join(target, 'usr/lib/systemd/systemd'))) return target;
  mkdirSync(cache, { recursive: true, mode: 0o755 });
  const building = `${target}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  const started = performance.now();
  const run = spawnSync(
    'debootstrap',
    [
      '--variant=minbase',
      `--include=${recipe.packages.join(',')}`,
      ...(recipe.keyring ? [`--keyring=${recipe.keyring}`] : []),
      recipe.codename,
      building,
      recipe.mirror,
    ],
    { encoding: 'utf8', timeout: DEBOOTSTRAP_TIMEOUT_MS, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' } },
  );
  if (run.status !== 0) {
    rmSync(building, { recursive: true, force: true });
    throw new Error(`debootstrap failed (${run.status ?? run.signal}):\n${`${run.stdout}${run.stderr}`.slice(-3000)}`);
  }
  try {
    renameSync(building, target);
  } catch (error) {
    rmSync(building, { recursive: true, force: true });
    if (!existsSync(target)) throw error;
  }
  console.log(`debootstrap ${recipe.codename} from the machine's apt mirror: ${((performance.now() - started) / 1000).toFixed(0)} s, cached in ${target}`);
  return target;
}
