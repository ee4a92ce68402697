#!/bin/sh
# Creates the hggis owner and app roles when the PostGIS volume is first initialised
# (docker-entrypoint-initdb.d runs it once, as POSTGRES_USER, after the image's PostGIS
# script). Re-run it on an existing volume with
#   docker-compose exec db sh /docker-entrypoint-initdb.d/20-hggis-roles.sh
# The SQL is hggis/db/roles.sql, the same file the embedded cluster runs. Passwords come
# from the environment through psql's \getenv, so they never appear on a command line.
set -eu
: "${HGGIS_OWNER_PASSWORD:?set HGGIS_OWNER_PASSWORD}"
: "${HGGIS_APP_PASSWORD:?set HGGIS_APP_PASSWORD}"
export HGGIS_OWNER_PASSWORD HGGIS_APP_PASSWORD
{
  printf '%s\n' '\getenv owner_password HGGIS_OWNER_PASSWORD' '\getenv app_password HGGIS_APP_PASSWORD'
  cat "${HGGIS_ROLES_SQL:-/hggis/roles.sql}"
} | psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet \
    --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-hggis}" \
    -v owner_role="${HGGIS_OWNER_ROLE:-hggis_owner}" -v app_role="${HGGIS_APP_ROLE:-hggis_app}"
