#!/bin/sh
# The `scale` profile's streaming replica: on an empty volume, a base backup of the primary
# (`db`) as hggis_replicator with standby.signal and primary_conninfo (-R); then a hot standby.
# Runs as the postgres user of the PostGIS image (compose `user: postgres`).
set -eu
: "${PGPASSWORD:?set HGGIS_REPLICATION_PASSWORD}"
PRIMARY_HOST="${HGGIS_PRIMARY_HOST:-db}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_isready -h "$PRIMARY_HOST" -p 5432 -q; do sleep 1; done
  pg_basebackup -h "$PRIMARY_HOST" -p 5432 -U hggis_replicator -D "$PGDATA" -R -X stream -c fast -w
  chmod 700 "$PGDATA"
fi
exec postgres -c hot_standby=on -c hot_standby_feedback=on -c max_connections=100
