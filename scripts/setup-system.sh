#!/usr/bin/env bash
# Install the Debian/Ubuntu packages hggis needs, only those that are missing:
# PostgreSQL server + PostGIS (the embedded cluster), GDAL's command-line tools (ogrinfo,
# used to test the OGC API as QGIS sees it), docker-compose (to validate the compose file),
# python3-venv, Node.js + npm (the front-end assets), Chromium and a CJK font (the browser
# tests and their screenshots). Safe to run again; does nothing when everything is present.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "error: installing system packages needs root or sudo" >&2; exit 1
  fi
fi

have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing=()
have_pkg postgresql || missing+=(postgresql)
have_pkg gdal-bin || missing+=(gdal-bin)
have_pkg docker-compose || missing+=(docker-compose)
python3 -c "import ensurepip, venv" 2>/dev/null || missing+=(python3-venv)
# Node.js + npm install the front-end assets (package-lock.json); Chromium runs the browser tests.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# WenQuanYi Micro Hei has TrueType outlines: the PDF documents embed it (Noto CJK is CFF, which they cannot).
have_pkg fonts-wqy-microhei || missing+=(fonts-wqy-microhei)
# nginx: the tile cache of `hggis serve --cache` (run as hggis's own child process, not the system service);
# pgbouncer: connection pooling in transaction mode (tests/test_pgbouncer.py).
have_pkg nginx || missing+=(nginx)
have_pkg pgbouncer || missing+=(pgbouncer)

updated=0
apt_install() {
  if [ "$updated" -eq 0 ]; then $SUDO apt-get update -qq; updated=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@"
}

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt_install "${missing[@]}"
fi

# PostGIS must match the server's major version (postgresql-15-postgis-3 on Debian 12).
major=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1)
if [ -z "$major" ]; then echo "error: no PostgreSQL server found after installing it" >&2; exit 1; fi
if [ ! -f "/usr/share/postgresql/$major/extension/postgis.control" ]; then
  echo "installing: postgresql-$major-postgis-3"
  apt_install "postgresql-$major-postgis-3"
fi
# Debian starts a system-wide cluster on port 5432 on install; hggis does not use it.
echo "system packages ready (PostgreSQL $major with PostGIS)"
