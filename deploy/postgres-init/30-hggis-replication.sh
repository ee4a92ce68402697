#!/bin/sh
# The replication role of the `scale` profile's streaming replica, created once when the
# primary's volume is first initialised (docker-entrypoint-initdb.d, as POSTGRES_USER).
# Without HGGIS_REPLICATION_PASSWORD (the default profile) it does nothing.
# hggis_replicator may log in for replication and nothing else: no superuser, no database,
# no role, no table privilege (the embedded replica's role is the same, hggis/db/replica.py).
set -eu
if [ -z "${HGGIS_REPLICATION_PASSWORD:-}" ]; then
  echo "30-hggis-replication: HGGIS_REPLICATION_PASSWORD unset, no replication role"
  exit 0
fi
export HGGIS_REPLICATION_PASSWORD
printf '%s\n' '\getenv replication_password HGGIS_REPLICATION_PASSWORD' \
  "CREATE ROLE hggis_replicator WITH LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOBYPASSRLS PASSWORD :'replication_password';" \
  | psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-hggis}"
# the image's pg_hba lets "all" databases in from the network, which does not cover replication
echo "host replication hggis_replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
