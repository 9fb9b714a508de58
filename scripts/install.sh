#!/usr/bin/env bash
# Installs backend-api as a systemd service: the single executable, the unit, and an environment
# file with a generated JWT_SECRET (an existing one is never touched). Run as root after
# `npm run build`; re-running it upgrades the executable and restarts a running service.
set -euo pipefail

readonly NAME=backend-api
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly here

usage() {
  cat <<USAGE
Usage: sudo scripts/install.sh [--binary PATH] [--no-start] [--destdir DIR]

Installs:
  /usr/local/bin/backend-api               the executable (default: dist/backend-api, from npm run build)
  /etc/systemd/system/backend-api.service  the unit (systemd/backend-api.service)
  /etc/backend-api/backend-api.env         every setting of the service (the unit sets none),
                                           mode 0600, with a generated JWT_SECRET; kept when it
                                           exists, only adding NODE_ENV, DATABASE_PATH and LOG_DIR
                                           if it lacks them (older units set those themselves)
then runs systemctl daemon-reload and enables the service: it starts it, or restarts it
when it is already running (an upgrade).

Options:
  --binary PATH   the executable to install
  --no-start      enable the service but neither start nor restart it
  --destdir DIR   install under DIR instead of / (packaging, tests): no root needed, and
                  systemctl is not run
  --help          print this help
USAGE
}

die() {
  echo "install.sh: $*" >&2
  exit 1
}

binary="${here}/../dist/${NAME}"
start=yes
destdir=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --binary) [[ $# -ge 2 ]] || die "--binary needs a path"; binary="$2"; shift 2 ;;
    --no-start) start=no; shift ;;
    --destdir) [[ $# -ge 2 ]] || die "--destdir needs a directory"; destdir="${2%/}"; shift 2 ;;
    --help | -h) usage; exit 0 ;;
    *) echo "install.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done

if [[ -z "${destdir}" && "$(id -u)" -ne 0 ]]; then
  die "must run as root (sudo scripts/install.sh), or with --destdir"
fi
[[ -f "${binary}" && -x "${binary}" ]] || die "no executable at ${binary}: run npm run build first, or pass --binary"
unit="${here}/../systemd/${NAME}.service"
[[ -f "${unit}" ]] || die "no unit file at ${unit}"

bin_path="${destdir}/usr/local/bin/${NAME}"
unit_path="${destdir}/etc/systemd/system/${NAME}.service"
env_dir="${destdir}/etc/${NAME}"
env_path="${env_dir}/${NAME}.env"

# A secret of 48 random bytes, base64: openssl when present, else the kernel's generator through od.
random_secret() {
  if command -v openssl >/dev/null 2>&1; then
    openssl rand -base64 48 | tr -d '\n'
  else
    od -An -tx1 -N48 /dev/urandom | tr -d ' \n'
  fi
}

# Through a temporary file and a rename: a running executable cannot be written over (ETXTBSY),
# and nobody ever sees half a file.
install -d -m 0755 "$(dirname "${bin_path}")" "$(dirname "${unit_path}")"
install -m 0755 "${binary}" "${bin_path}.new"
mv -f "${bin_path}.new" "${bin_path}"
install -m 0644 "${unit}" "${unit_path}.new"
mv -f "${unit_path}.new" "${unit_path}"
echo "installed ${bin_path} ($("${bin_path}" --version)) and ${unit_path}"

# The settings the unit relies on: it sets none itself (no Environment= lines), so that
# check-config --environment-file on this file checks exactly what the service runs with.
readonly UNIT_SETTINGS=(NODE_ENV=production "DATABASE_PATH=/var/lib/${NAME}/app.db" "LOG_DIR=/var/log/${NAME}")

install -d -m 0700 "${env_dir}"
if [[ -e "${env_path}" ]]; then
  # A file from before the unit left these to it: add the ones it lacks, with the values the old
  # unit gave them, and change nothing else (the same line through a temporary file and a rename).
  missing=()
  for setting in "${UNIT_SETTINGS[@]}"; do
    grep -q "^${setting%%=*}=" "${env_path}" || missing+=("${setting}")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    echo "kept ${env_path} as it is"
  else
    cp -p "${env_path}" "${env_path}.new"
    [[ -z "$(tail -c 1 "${env_path}")" ]] || echo >>"${env_path}.new"
    printf '# Added by install.sh: the unit used to set these itself.\n' >>"${env_path}.new"
    printf '%s\n' "${missing[@]}" >>"${env_path}.new"
    mv -f "${env_path}.new" "${env_path}"
    echo "kept ${env_path}, adding what the unit used to set: ${missing[*]}"
  fi
else
  secret="$(random_secret)"
  [[ ${#secret} -ge 32 ]] || die "could not generate a JWT secret"
  # umask first: the file is never readable by others, not even for a moment.
  (
    umask 077
    cat >"${env_path}.new" <<ENV
# backend-api settings, read by systemd (EnvironmentFile=) as root before the service starts,
# and all of them: the unit sets none. Check them as the service will see them with
#   backend-api check-config --environment-file ${env_path#"${destdir}"}
# Every variable is described in the project's .env.example.
$(printf '%s\n' "${UNIT_SETTINGS[@]}")
JWT_SECRET=${secret}
# The defaults; nginx/backend-api-upstream.conf points at this address.
# HOST=127.0.0.1
# PORT=3000
# Worker processes; the default is one per CPU.
# WORKERS=2
# Seconds the workers may take to drain on stop; the service extends systemd's stop timeout to match.
# SHUTDOWN_TIMEOUT=10
ENV
  )
  chmod 0600 "${env_path}.new"
  mv -f "${env_path}.new" "${env_path}"
  echo "created ${env_path} (mode 0600) with a new JWT_SECRET"
fi

if [[ -n "${destdir}" ]]; then
  echo "--destdir given: systemctl not run"
  exit 0
fi
systemctl daemon-reload
if [[ "${start}" == no ]]; then
  systemctl enable "${NAME}.service"
  echo "enabled ${NAME}; start it with: systemctl start ${NAME}"
elif systemctl is-active --quiet "${NAME}.service"; then
  systemctl enable "${NAME}.service"
  systemctl restart "${NAME}.service"
  echo "enabled and restarted ${NAME} on the new executable"
else
  systemctl enable --now "${NAME}.service"
  echo "enabled and started ${NAME}"
fi
