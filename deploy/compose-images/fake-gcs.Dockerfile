# fake-gcs-server (built from the Go module proxy by scripts/tools/fake-gcs-server.sh) on the project's Debian
# base. Built by scripts/docker-compose-images.mjs as dyff-fake-gcs:local; its flags are the compose command.
ARG BASE_IMAGE=dyff-base:trixie-node20
FROM ${BASE_IMAGE}
COPY fake-gcs-server /usr/local/bin/fake-gcs-server
VOLUME /storage
EXPOSE 4443
ENTRYPOINT ["fake-gcs-server"]
