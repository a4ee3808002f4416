# syntax=docker/dockerfile:1
# One image recipe for every Workemon service, built from the repository root:
#   docker build --build-arg SERVICE=secretary --build-arg PORT=8000 -t workemon/secretary .
# SERVICE is a directory under services/ (secretary, guesser, system-analyst, communicator).
# docker-compose.yml builds all four.

# Current Node LTS for the images; local development works on Node >= 20.10 (package.json engines).
ARG NODE_IMAGE=node:24-bookworm-slim

# ---- deps: the package store, cached until pnpm-lock.yaml changes ----
FROM ${NODE_IMAGE} AS deps
ENV CI=true
# corepack fails its signature check on some mirrors: install the pinned pnpm with npm.
RUN npm i -g pnpm@10.34.9 && pnpm --version
WORKDIR /repo
# Only the lockfile and the workspace settings: `pnpm fetch` downloads every package into the store,
# so a source change never invalidates this layer.
COPY pnpm-lock.yaml pnpm-workspace.yaml ./
RUN pnpm fetch

# ---- build: the sources, an offline install from the store, the service and its packages ----
FROM deps AS build
ARG SERVICE
RUN test -n "${SERVICE}" || (echo "build with --build-arg SERVICE=<secretary|guesser|system-analyst|communicator>" && exit 1)
COPY package.json tsconfig.base.json tsconfig.build.json ./
COPY packages/ ./packages/
COPY services/ ./services/
COPY bench/package.json ./bench/package.json
RUN pnpm install --frozen-lockfile --offline
# Workspace packages run from their dist/: build the service and every workspace package it uses.
RUN pnpm --filter "@workemon/${SERVICE}..." run build
# pnpm 10: --legacy deploys without inject-workspace-packages; the tree carries each workspace
# package's dist/ and only production dependencies.
RUN pnpm --filter "@workemon/${SERVICE}" deploy --legacy --prod /out \
 && test -f /out/dist/main.js

# ---- runtime: small base, non-root, production tree only ----
FROM ${NODE_IMAGE} AS runtime
ARG PORT=8000
# NODE_OPTIONS and the MALLOC_* variables: the runtime settings the launcher gives every service
# (packages/launcher/src/runtime.ts says why; test/ops/dockerfile.test.ts keeps the two equal).
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=${PORT} \
    NODE_OPTIONS="--max-semi-space-size=2 --expose-gc" \
    MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=32768 \
    MALLOC_TRIM_THRESHOLD_=131072
WORKDIR /app
COPY --from=build --chown=node:node /out/ ./
USER node
EXPOSE ${PORT}
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/health').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"]
# Exec form: node receives SIGTERM directly (compose adds `init: true` as PID 1).
CMD ["node", "--single-threaded-gc", "dist/main.js"]
