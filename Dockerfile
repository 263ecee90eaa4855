# RaftKV node image.
#
#   docker build -t raftkv .
#   docker run -p 6379:6379 -p 16379:16379 -v raftkv-data:/data \
#     -e RAFTKV_CLUSTER_SECRET="$(openssl rand -hex 16)" -e RAFTKV_REQUIREPASS=pw raftkv   # one-node cluster
# The image listens on every interface, so a node needs a cluster secret (16+ bytes; there is no
# default): RAFTKV_CLUSTER_SECRET, or RAFTKV_CLUSTER_SECRET_FILE naming a file, as compose does.
#
# Without RAFTKV_REQUIREPASS, protected mode refuses clients that are not on the container's
# loopback (published ports included); RAFTKV_PROTECTED_MODE=no opens it on a trusted network.
#
# Without a registry, build on a local equivalent of the official base image:
#   docker build --build-arg NODE_IMAGE="$(scripts/offline-base-image.sh)" -t raftkv .
#
# Every setting is a RAFTKV_* environment variable (`docker run raftkv start --help` lists them);
# see docs/containers.md for clusters and docker-compose.yml for a 3-node one.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: all dependencies, compile src/ to JavaScript ------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: the build only needs TypeScript, and native add-ons of dev tools would
# want a compiler the slim image does not have.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/tsconfig.image.json ./scripts/
COPY src ./src
RUN npx tsc -p scripts/tsconfig.image.json

# ---- deps: production dependencies only -----------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# LevelDB (classic-level) and msgpackr load prebuilt binaries shipped inside their packages,
# so install scripts are not needed here either.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# ---- run ------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS run
RUN groupadd --system --gid 10001 raftkv \
 && useradd --system --uid 10001 --gid raftkv --home-dir /app --no-create-home --shell /usr/sbin/nologin raftkv \
 && mkdir -p /data /secret \
 && chown raftkv:raftkv /data /secret
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY scripts/healthcheck.mjs ./scripts/

# Container defaults: listen on every interface, keep data in the volume. Give each node its
# RAFTKV_ID, RAFTKV_PEERS and RAFTKV_ADVERTISE_HOST (the name other nodes and clients reach it by).
# MALLOC_* and the node flag in ENTRYPOINT are the runtime settings every node runs with
# (src/cli/runtime.ts says why; a test keeps the two in step).
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=65537 \
    RAFTKV_HOST=0.0.0.0 \
    RAFTKV_HTTP_HOST=0.0.0.0 \
    RAFTKV_PORT=6379 \
    RAFTKV_DATA_DIR=/data

USER raftkv
VOLUME ["/data"]
# RESP (redis-cli), then HTTP API + peer links (RESP port + 10000 unless RAFTKV_HTTP_PORT is set).
EXPOSE 6379 16379
HEALTHCHECK --interval=5s --timeout=3s --start-period=20s --retries=3 CMD ["node", "scripts/healthcheck.mjs"]
# node runs as PID 1 and handles SIGTERM itself: a leader hands over leadership before exiting.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "--max-semi-space-size=8", "--enable-source-maps", "dist/cli/main.js"]
CMD ["start"]
