"""Settings read from the environment (and an optional ``.env`` file).

Every knob a deployment may turn lives here, so the README's configuration table and the
code cannot drift apart: the table is written from this class.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Runtime configuration; field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="External PostGIS (postgresql+psycopg://…). Unset: the embedded cluster under HGGIS_VAR_DIR.",
    )
    database_owner_url: str | None = Field(
        default=None,
        description="With DATABASE_URL: the schema owner's URL, used by `hggis db migrate`; "
        "DATABASE_URL is then the app role (DML only). Unset: DATABASE_URL's role does both.",
    )
    hggis_statement_timeout_s: float = Field(
        default=60,
        ge=0,
        description="The service's statements are cancelled after this many seconds (503 to the client); 0: never.",
    )
    hggis_cli_statement_timeout_s: float = Field(
        default=3600,
        ge=0,
        description="The same bound for CLI commands (imports, evaluations, exports of the whole city); 0: never.",
    )
    hggis_idle_in_transaction_timeout_s: float = Field(
        default=60,
        ge=0,
        description="A service or CLI session idle inside a transaction this long is ended, releasing its locks.",
    )
    database_read_url: str = Field(
        default="",
        description="Read replicas (comma-separated URLs, app role): anonymous maps, tiles, OGC reads, exports and "
        "reports read from one of them. Empty: the embedded replica when `hggis db up --replica` runs it, else none.",
    )
    hggis_replica_max_lag_s: float = Field(
        default=5,
        gt=0,
        description="A replica more than this many seconds behind the primary is not read from (the primary "
        "answers); it is also how long a browser reads the primary after its own write (read-your-writes).",
    )
    hggis_replica_check_s: float = Field(
        default=1,
        gt=0,
        description="How often (seconds) each worker measures a replica's lag; a replica that failed is retried "
        "after this long.",
    )
    hggis_pg_replica_port: int | None = Field(
        default=None, description="Loopback port of the embedded streaming replica (unset: HGGIS_PG_PORT + 1)."
    )
    hggis_var_dir: Path = Field(
        default=PROJECT_ROOT / "var",
        description="Where the embedded cluster (pg/), logs and generated artifacts live.",
    )
    hggis_pg_port: int = Field(default=54329, description="Loopback port of the embedded PostGIS cluster.")
    hggis_host: str = Field(default="127.0.0.1", description="Address the web service binds to.")
    hggis_port: int = Field(default=8000, description="Port the web service listens on.")
    hggis_basemap: Literal["auto", "local", "none", "tianditu", "osm", "amap"] = Field(
        default="auto",
        description="Base map under the maps: auto (the offline package loaded with `hggis basemap load` when "
        "there is a usable one, else none), local (the package only), none (boundaries on a plain background), "
        "tianditu (online, needs TIANDITU_KEY), osm, or amap (overlays are shifted to GCJ-02).",
    )
    hggis_basemap_package: Path | None = Field(
        default=None,
        description="An MBTiles/PMTiles base map package to serve at /basemap/…; unset: the one registered by "
        "`hggis basemap load` (HGGIS_VAR_DIR/basemap.json).",
    )
    tianditu_key: str | None = Field(default=None, description="天地图 browser key (tk), mandatory for HGGIS_BASEMAP=tianditu.")
    hggis_public_min_enterprises: int = Field(
        default=3,
        description="Public maps show a park's total output only when at least this many enterprises report "
        "figures, so no single firm's output can be read off (statistical confidentiality).",
    )
    hggis_timezone: str = Field(
        default="Asia/Shanghai", description="Zone of the local calendar: 'today', deadlines and legal dates."
    )
    hggis_upload_max_mb: float = Field(
        default=200, description="Largest file accepted by the web upload of imports (MB); larger uploads get 413."
    )
    hggis_upload_stale_hours: float = Field(
        default=6,
        gt=0,
        description="An upload's work directory (under HGGIS_VAR_DIR/uploads) older than this is removed at "
        "start-up and before each upload even if its process still runs; a dead process's at once.",
    )
    hggis_db_pool_size: int = Field(
        default=10, description="Database connections each web worker keeps open (SQLAlchemy pool size)."
    )
    hggis_db_max_overflow: int = Field(
        default=10, description="Extra connections a web worker may open above the pool size under load."
    )
    hggis_db_pool_timeout_s: float = Field(
        default=10, description="Seconds a request waits for a database connection before it gets 503."
    )
    hggis_max_concurrent_requests: int | None = Field(
        default=None,
        description="Requests one web worker serves at once; more wait up to HGGIS_DB_POOL_TIMEOUT_S, then get 503 "
        "with Retry-After. Unset: half of pool size + overflow, so a request that needs two connections still fits.",
    )
    hggis_workers: int | None = Field(
        default=None, description="Web worker processes of `hggis serve` (unset: one per CPU core)."
    )

    hggis_trusted_proxies: str = Field(
        default="",
        description="Comma-separated addresses or networks (e.g. 127.0.0.1,10.0.0.0/8) of reverse proxies whose "
        "Forwarded / X-Forwarded-For / X-Forwarded-Proto headers are believed, for the client address (sign-in "
        "limits, logs) and the scheme (Secure cookies). Empty: no proxy is trusted and those headers are ignored.",
    )
    hggis_auth_failures_per_address: int = Field(
        default=10, ge=1,
        description="Failed sign-ins (bad tokens or passwords) one client address may make per window before its "
        "further failures get 429; a valid token from that address is still accepted.",
    )
    hggis_auth_failures_per_account: int = Field(
        default=10, ge=1,
        description="Failed password sign-ins per account name per window, from any address, before the sign-in "
        "form refuses that account with 429 for the rest of the window.",
    )
    hggis_auth_failure_window_s: float = Field(
        default=300, gt=0, description="Window of the sign-in failure limits, in seconds (shared by all workers)."
    )
    hggis_photo_max_bytes: int = Field(
        default=10 * 1024 * 1024, gt=0, description="Largest site photo accepted by a patrol record, in bytes."
    )
    hggis_patrol_max_photos: int = Field(default=6, gt=0, description="Most photos one patrol record may carry.")
    hggis_map_inline_max: int = Field(
        default=1000,
        description="A map layer with more features than this is served as vector tiles instead of inline GeoJSON.",
    )
    hggis_boundary_tolerance_m: float = Field(
        default=1.0,
        ge=0,
        description="A parcel may stick out of its county's or park's polygon by at most this many metres "
        "(survey round-off); beyond it the write is refused. Raise it if the county polygons are coarse.",
    )
    hggis_overlap_tolerance_m2: float = Field(
        default=1.0,
        ge=0,
        description="Overlap with a live parcel up to this area (m²) is a sliver: written, but reported as a "
        "warning; a larger overlap is refused.",
    )
    hggis_parcel_min_mu: float = Field(
        default=0.5, gt=0, description="Smallest plausible parcel (亩); smaller ones are refused as a unit or digit slip."
    )
    hggis_parcel_max_mu: float = Field(
        default=5000.0, gt=0, description="Largest plausible parcel (亩); larger ones are refused."
    )
    hggis_earliest_date: dt.date = Field(
        default=dt.date(1980, 1, 1),
        description="No contract, fact or scan date of a parcel lies before this day (refused as a typo).",
    )
    hggis_future_years: int = Field(
        default=10,
        ge=0,
        description="Agreed (contract) dates and idle-land scan dates may lie at most this many years after "
        "today; facts on the ground (started, completed, halted …) never after today.",
    )
    hggis_document_font: Path | None = Field(
        default=None,
        description="TrueType font (.ttf/.ttc) with Chinese glyphs for the PDF documents and 宗地图 of idle-land "
        "cases. Unset: WenQuanYi Micro Hei as installed by scripts/setup-system.sh.",
    )
    hggis_hearing_request_working_days: int = Field(
        default=5,
        ge=1,
        le=60,
        description="Working days (Monday–Friday) from the service of a 听证权利告知书 within which the holder may "
        "ask for a hearing (《国土资源听证规定》: 五个工作日); public holidays are not known and not skipped.",
    )
    hggis_enquiry_per_hour: int = Field(
        default=5, ge=1, le=1000,
        description="Investor enquiries accepted from one address per hour (the public form on a parcel page).",
    )
    hggis_enquiry_repeat_hours: int = Field(
        default=24, ge=1, le=24 * 30,
        description="An enquiry with the same content (parcel, contact, project) within this many hours is refused "
        "as a repeat.",
    )
    hggis_enquiry_min_fill_seconds: float = Field(
        default=3.0, ge=0, le=600,
        description="An enquiry form sent back sooner than this after the page was served is refused as scripted.",
    )
    hggis_form_secret: str | None = Field(
        default=None,
        description="Secret that signs the public enquiry form's token and salts the hashed sender addresses. "
        "Unset: a random secret per process (tokens do not survive a restart; set it with several workers).",
    )

    hggis_cache_app_port: int = Field(
        default=8001,
        description="With `hggis serve --cache`: loopback port of the app behind nginx (nginx takes HGGIS_PORT).",
    )
    hggis_cache_max_mb: int = Field(default=1024, ge=16, description="Largest size of the nginx tile cache on disk.")
    hggis_cache_tile_ttl_s: int = Field(
        default=86400,
        ge=1,
        description="Longest life of a cached public tile; edits purge the affected tiles at once, this is a backstop.",
    )
    hggis_cache_page_ttl_s: int = Field(
        default=300,
        ge=1,
        description="Longest life of a cached public map page or GeoJSON (purged on every committed change).",
    )
    hggis_cache_poll_s: float = Field(
        default=0.2, gt=0, le=10, description="How often the cache purger reads new history rows."
    )
    hggis_cache_repurge_s: float = Field(
        default=5,
        ge=0,
        description="The purger deletes the affected entries again this long after an edit, for a tile that was "
        "being built from the data before the edit while the first purge ran.",
    )
    hggis_db_pgbouncer: bool = Field(
        default=False,
        description="DATABASE_URL points at PgBouncer in transaction mode: no server-side prepared statements, and "
        "the session bounds are set per transaction (SET LOCAL) instead of as connection options.",
    )

    hggis_evaluation_notice_days: int = Field(
        default=7,
        ge=1,
        le=90,
        description="Length of the 公示 of 亩均 evaluation results, in calendar days counting the first day; "
        "objections are accepted on these days only (domain.md §9: e.g. 7 days, varies locally).",
    )

    def admission_slots(self) -> int:
        """Requests admitted per worker: fewer than pool connections, so admitted work never starves."""
        if self.hggis_max_concurrent_requests:
            return self.hggis_max_concurrent_requests
        return max(1, (self.hggis_db_pool_size + self.hggis_db_max_overflow) // 2)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
