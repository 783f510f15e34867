# syntax=docker/dockerfile:1.7
# The one dyff-temporal image: the Temporal worker (`worker`), every step a Job runs (`step <name> …`), and the
# inference-session server. Kubernetes Jobs run it as `dyffctl step …` (args after the entrypoint).
#   docker build -t dyff-temporal .
#   docker run --rm dyff-temporal --help
ARG NODE_IMAGE=node:20-bookworm-slim

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
# uid 1000 is the image's `node` user; the Job and Deployment specs run as 1000 with a read-only root filesystem
# and an emptyDir at /tmp (scratch, and Node's compile cache from Node 22 on).
USER 1000:1000
ENTRYPOINT ["node", "bin/dyffctl.mjs"]
CMD ["worker"]
