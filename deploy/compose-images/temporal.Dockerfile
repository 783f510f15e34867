# Temporal's dev server (the Temporal CLI's `server start-dev`: every service, the UI and a SQLite store in one
# process) on the project's Debian base; the CLI binary comes from scripts/install-temporal-cli.sh. Built by
# scripts/docker-compose-images.mjs as dyff-temporal-server:local. Arguments after the entrypoint are added to it.
ARG BASE_IMAGE=dyff-base:trixie-node20
FROM ${BASE_IMAGE}
COPY temporal /usr/local/bin/temporal
VOLUME /var/lib/temporal
EXPOSE 7233 8233
ENTRYPOINT ["temporal", "server", "start-dev", "--ip", "0.0.0.0", "--ui-ip", "0.0.0.0", "--port", "7233", "--ui-port", "8233", "--db-filename", "/var/lib/temporal/temporal.db", "--namespace", "default", "--log-level", "warn"]
