# Production image of the hggis web service. The database is an external PostGIS
# (docker-compose's `db` service), reached through DATABASE_URL.
# Front-end assets (Leaflet and its plugins, Chart.js) from package-lock.json; served by the app.
FROM node:20-bookworm-slim AS assets
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HGGIS_HOST=0.0.0.0 HGGIS_PORT=8000 HGGIS_VAR_DIR=/var/lib/hggis

# pg_dump / pg_restore / psql of the db service's major version, for `hggis db backup|restore`.
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client-15 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# pyogrio, rasterio and psycopg ship their native libraries in their wheels.
COPY pyproject.toml README.md requirements.lock ./
COPY hggis ./hggis
COPY api ./api
COPY maps ./maps
COPY data ./data
COPY --from=assets /build/node_modules ./node_modules
RUN pip install --require-hashes -r requirements.lock && pip install --no-deps -e . && useradd --system --home /var/lib/hggis --create-home hggis
USER hggis
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/api/health').status == 200 else 1)"
# Migrating on start is idempotent (as DATABASE_OWNER_URL); the service then runs as DATABASE_URL,
# the app role. It waits for nothing, so compose orders it after db is healthy.
CMD ["sh", "-c", "hggis db migrate && exec hggis serve"]
