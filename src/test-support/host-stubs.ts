import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Stand-ins for the three host commands the README's deploy steps call that a test cannot run
 * for real outside a booted system: sudo, systemctl and nginx's default paths. Everything the
 * steps install goes under $PREFIX, which stands for the host's /; the stubs run what is
 * installed there the way systemd would (the unit's ExecStart= with its EnvironmentFile=, its
 * directories made for it, `start` returning once the API answers as Type=notify does).
 * src/system-tests/systemd-container.process.test.ts runs the same unit under a real systemd.
 */
const STUBS: Readonly<Record<string, string>> = {
  sudo: `#!/bin/bash
# sudo: the caller already is the user the step wants; VAR=value words set the environment, as sudo's do.
exec env "$@"
`,
  nginx: `#!/bin/bash
# The machine's nginx, on the files installed under $PREFIX instead of /etc/nginx.
exec "$REAL_NGINX" -p "$PREFIX/" -c "$PREFIX/etc/nginx/nginx.conf" -e "$PREFIX/var/log/nginx/error.log" "$@"
`,
  systemctl: `#!/bin/bash
# systemctl for backend-api and nginx as installed under $PREFIX, without systemd.
set -euo pipefail
run="$PREFIX/run"
unit="$PREFIX/etc/systemd/system/backend-api.service"
directive() { sed -n "s/^$1=-\\{0,1\\}//p" "$unit"; }

start_api() {
  rm -f "$run/backend-api.status"
  install -d -m 0700 "$PREFIX/var/lib/$(directive StateDirectory)" "$PREFIX/var/log/$(directive LogsDirectory)" \\
    "$PREFIX/var/cache/$(directive CacheDirectory)"
  local exec_start env_file
  exec_start="$PREFIX$(directive ExecStart)"
  env_file="$PREFIX$(directive EnvironmentFile)"
  # The unit's command in a clean environment with its settings file, as systemd runs it; a
  # shell of its own session waits for it and keeps its exit status.
  # shellcheck disable=SC2016
  env -i PATH=/usr/bin:/bin CACHE_DIRECTORY="$PREFIX/var/cache/$(directive CacheDirectory)" \\
    setsid bash -c 'echo $$ >"$0/backend-api.pgid"; $1 --environment-file "$2" & echo $! >"$0/backend-api.pid"; wait $!; echo $? >"$0/status.new"; mv "$0/status.new" "$0/backend-api.status"' \\
    "$run" "$exec_start" "$env_file" </dev/null >>"$PREFIX/var/log/backend-api.out" 2>&1 &
  # Type=notify: start returns once the API answers.
  for _ in $(seq 600); do
    curl -sf -o /dev/null "http://127.0.0.1:$API_PORT/health" && return 0
    if [[ -e "$run/backend-api.status" ]]; then echo "backend-api exited $(cat "$run/backend-api.status")" >&2; return 1; fi
    sleep 0.1
  done
  echo "backend-api did not answer within 60 s" >&2
  return 1
}

stop_api() {
  [[ -e "$run/backend-api.pid" && ! -e "$run/backend-api.status" ]] || return 0
  # KillMode=mixed: SIGTERM to the primary alone, which drains its workers.
  kill -TERM "$(cat "$run/backend-api.pid")"
  for _ in $(seq 300); do [[ -e "$run/backend-api.status" ]] && return 0; sleep 0.1; done
  echo "backend-api did not stop within 30 s" >&2
  return 1
}

verb=$1
shift
[[ "\${1:-}" == --now ]] && { verb="$verb-now"; shift; }
case "$verb/\${1%.service}" in
  start/backend-api | enable-now/backend-api) start_api ;;
  stop/backend-api) stop_api ;;
  restart/backend-api) stop_api && start_api ;;
  status/backend-api)
    if [[ -e "$run/backend-api.pid" && ! -e "$run/backend-api.status" ]]; then echo "backend-api: active (running)"; else echo "backend-api: inactive"; exit 3; fi ;;
  reload/nginx | start/nginx)
    # nginx -t leaves an empty pid file behind: running means a live process behind a pid.
    if [[ -s "$run/nginx.pid" ]] && kill -0 "$(cat "$run/nginx.pid")" 2>/dev/null; then nginx -s reload; else nginx; fi ;;
  *) echo "systemctl (test stand-in): $verb $* is not one of its steps" >&2; exit 1 ;;
esac
`,
};

/** installHostStubs writes sudo, systemctl and nginx stand-ins into `dir` (to put first on PATH) and returns it. */
export function installHostStubs(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, script] of Object.entries(STUBS)) writeFileSync(join(dir, name), script, { mode: 0o755 });
  return dir;
}
