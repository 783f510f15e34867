# syntax=docker/dockerfile:1.7
# The one dyff-temporal image: the Temporal worker (`worker`), every step a Job runs (`step <name> …`), and the
# inference-session server. Kubernetes Jobs run it as `dyffctl step …` (args after the entrypoint).
#   docker build -t dyff-temporal .
#   docker run --rm dyff-temporal --help
# NODE_IMAGE is the base of every stage: any Node 20+ image (scripts/docker-image.mjs builds one from Debian).
ARG NODE_IMAGE=node:20-bookworm-slim

# `--target prebuilt` and `--target prebuilt-modules`: the runtime image from what a checkout already has, for
# machines that cannot download packages or prebuilt binaries (scripts/docker-image.mjs sends exactly those files as
# the context). prebuilt-modules is NODE_IMAGE plus the production node_modules (native modules compiled on a host
# with the base's Node ABI), rebuilt only when the modules change; prebuilt adds dist/ and bin/ on top of it (built
# with NODE_IMAGE set to the modules image). First in the file, because the legacy builder builds every stage up to
# its target.
FROM ${NODE_IMAGE} AS prebuilt
ENV NODE_ENV=production
WORKDIR /app
COPY package.json ./
COPY bin ./bin
COPY dist ./dist
# `dyffctl` on PATH (`docker compose exec worker dyffctl …`), and the data home of docker-compose.yml: a named
# volume mounted there starts with this owner.
RUN ln -s /app/bin/dyffctl.mjs /usr/local/bin/dyffctl && mkdir -p /var/lib/dyff && chown 1000:1000 /var/lib/dyff
USER 1000:1000
ENTRYPOINT ["node", "bin/dyffctl.mjs"]
CMD ["worker"]

FROM ${NODE_IMAGE} AS prebuilt-modules
WORKDIR /app
COPY node_modules ./node_modules

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
# Native modules (better-sqlite3) build from source when no prebuilt binary matches.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

# The compiled JavaScript the image runs (no TypeScript loader at run time): tsc from the dev dependencies, which
# stay in this stage. No native module is needed to compile, hence --ignore-scripts.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY scripts/build.mjs ./scripts/
COPY src ./src
RUN node scripts/build.mjs

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
# dist/ only, no src/: bin/dyffctl.mjs runs dist/ when there are no sources to be stale against.
COPY --from=build /app/dist ./dist
# `dyffctl` on PATH (`docker compose exec worker dyffctl …`), and the data home of docker-compose.yml: a named
# volume mounted there starts with this owner.
RUN ln -s /app/bin/dyffctl.mjs /usr/local/bin/dyffctl && mkdir -p /var/lib/dyff && chown 1000:1000 /var/lib/dyff
# uid 1000 is the image's `node` user; the Job and Deployment specs run as 1000 with a read-only root filesystem
# and an emptyDir at /tmp (scratch, and Node's compile cache from Node 22 on).
USER 1000:1000
ENTRYPOINT ["node", "bin/dyffctl.mjs"]
CMD ["worker"]
