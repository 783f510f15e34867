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

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
# uid 1000 is the image's `node` user; the Job and Deployment specs run as 1000 with a read-only root filesystem
# and an emptyDir at /tmp (where tsx keeps its compile cache).
USER 1000:1000
ENTRYPOINT ["node", "bin/dyffctl.mjs"]
CMD ["worker"]
