# syntax=docker/dockerfile:1
#
# One image for every process of seckill-timeout; the command picks the role:
#   node --max-semi-space-size=32 dist/api/main.js       HTTP API (default; the flag: src/infra/node-flags.ts)
#   node --max-semi-space-size=32 dist/workers/main.js   BullMQ worker (timeouts, close path, payment events)
#   node dist/sandbox/main.js    WeChat Pay v2 sandbox
#   node dist/cli/migrate.js     apply prisma/migrations, then exit
# Configuration is environment variables only (see docs/contract.md).
#
#   docker build -t seckill-timeout .
#   docker run --rm -e REDIS_URL=... -e DATABASE_URL=... -e AMQP_URL=... -e HOST=0.0.0.0 -p 3000:3000 seckill-timeout

ARG NODE_VERSION=22

# ---- build: install everything, generate the Prisma client, compile, then drop dev deps ----
FROM node:${NODE_VERSION}-slim AS build
WORKDIR /app

# Prisma's CLI probes for libssl when it loads; give it one so it does not warn or guess.
RUN apt-get update \
 && apt-get install -y --no-install-recommends openssl \
 && rm -rf /var/lib/apt/lists/*

# Install scripts are skipped, as on the development machines (npm 11 skips them by default):
# nothing in the project relies on a dependency's postinstall (the Prisma engines download in
# particular); generating the client is an explicit step of `npm run build`.
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --no-audit --no-fund

COPY tsconfig.json tsconfig.build.json prisma.config.ts ./
COPY prisma ./prisma
COPY scripts ./scripts
COPY src ./src

# `npm run build` = prisma generate (offline: scripts/generate.mjs points
# PRISMA_SCHEMA_ENGINE_BINARY at an existing file, so nothing is downloaded), tsc, then
# scripts/copy-assets.mjs (the Lua scripts next to the compiled code).
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# ---- runtime: compiled code, production node_modules, migrations; runs as `node` ----
FROM node:${NODE_VERSION}-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app

# Owned by root and read-only for the `node` user: the processes write nothing to disk.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Read by dist/cli/migrate.js (resolved as ../../../prisma/migrations from dist/infra/db).
COPY --from=build /app/prisma ./prisma

USER node
# 3000: API (PORT); 3100: sandbox (SANDBOX_PORT); 9464: a worker's /metrics (WORKER_METRICS_PORT).
EXPOSE 3000 3100 9464
# Listen on every interface inside a container; the contract default (127.0.0.1) is for hosts.
ENV HOST=0.0.0.0 SANDBOX_HOST=0.0.0.0
CMD ["node", "--max-semi-space-size=32", "dist/api/main.js"]
