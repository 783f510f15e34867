# The Cloud Datastore emulator (the Google Cloud CLI's cloud-datastore-emulator component) on a JRE that
# scripts/docker-compose-images.mjs makes from the host's JDK with jlink, on the project's Debian base. Built as
# dyff-datastore-emulator:local; listens on 0.0.0.0:8081, its data in /var/lib/datastore.
ARG BASE_IMAGE=dyff-base:trixie-node20
FROM ${BASE_IMAGE}
COPY jre /opt/java
COPY cloud-datastore-emulator /opt/cloud-datastore-emulator
COPY datastore-entrypoint.sh /usr/local/bin/datastore-emulator
ENV JAVA=/opt/java/bin/java
VOLUME /var/lib/datastore
EXPOSE 8081
ENTRYPOINT ["/usr/local/bin/datastore-emulator"]
