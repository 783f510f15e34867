#!/bin/sh
# Starts the Datastore emulator on 0.0.0.0:8081 with its data on disk in DATASTORE_DIR (made on the first start);
# extra arguments go to `start`. On SIGTERM it asks the emulator to shut down, which is when it writes its data
# file: a plain signal would lose every entity written since the start.
set -eu
dir="${DATASTORE_DIR:-/var/lib/datastore}"
emulator=/opt/cloud-datastore-emulator/cloud_datastore_emulator
[ -d "$dir/WEB-INF" ] || "$emulator" create "$dir"
"$emulator" start --host=0.0.0.0 --port=8081 --store_on_disk=true --consistency=1.0 "$@" "$dir" &
pid=$!
trap 'node -e "fetch(\"http://127.0.0.1:8081/shutdown\", { method: \"POST\" }).catch(() => {})"; wait "$pid"' TERM INT
wait "$pid"
