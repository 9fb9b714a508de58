# syntax=docker/dockerfile:1
# backend-api in a container: the single executable that `npm run build` makes, alone on
# Debian slim. It carries Node, the bundle and the SQLite addon, so the image needs neither
# node_modules nor Node itself. docker-compose.yml runs it behind nginx with Redis.
#   docker build -t backend-api .
#   docker run -e JWT_SECRET="$(openssl rand -base64 48)" -p 3000:3000 -v backend-api-data:/data backend-api

# Node 24 LTS, the major the executable embeds: npm ci builds better-sqlite3's addon for its ABI,
# and the build puts that very addon into the executable instead of compiling it again.
FROM node:24-bookworm-slim AS build
# better-sqlite3 compiles its addon from source when no prebuilt one fits; the image's own
# Node headers (nodedir) spare node-gyp a download.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/*
ENV npm_config_nodedir=/usr/local
WORKDIR /src
# The lockfile alone first, so the dependency layer is reused until it changes.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# The executable is the Node 24 pinned in scripts/node-runtime.mjs (fetched with npm from the
# registry, integrity checked) with the bundle injected; it needs glibc, as the final stage has.
RUN npm run build

FROM debian:bookworm-slim
# wget is for the HEALTHCHECK only: the executable is Node, but runs nothing else than the API.
RUN apt-get update \
    && apt-get install -y --no-install-recommends wget \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /home/app --create-home --shell /usr/sbin/nologin app \
    && mkdir /data \
    && chown app:app /data \
    && chmod 0700 /data
COPY --from=build /src/dist/backend-api /usr/local/bin/backend-api

# LOG_DIR empty: logs go to stdout, where Docker collects them. The addon is unpacked into
# XDG_CACHE_HOME at start, which must be the user's own and on an exec-able filesystem.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATABASE_PATH=/data/app.db \
    LOG_DIR="" \
    XDG_CACHE_HOME=/home/app/.cache
USER app
WORKDIR /home/app
VOLUME /data
EXPOSE 3000
# The primary drains its workers on SIGTERM (SHUTDOWN_TIMEOUT, 10 s): give it longer than
# that before Docker's SIGKILL (docker stop -t 15, or stop_grace_period in compose).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
    CMD wget -q -O /dev/null "http://127.0.0.1:${PORT}/health" || exit 1
ENTRYPOINT ["/usr/local/bin/backend-api"]
CMD ["serve"]
