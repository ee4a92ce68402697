"""Helpers of the workbench tests: a live server with the demo data, users with passwords,
a headless Chromium that may only talk to localhost, and a Shapefile to import."""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import text
from sqlalchemy.engine import Engine

from hggis.access.policy import operator
from hggis.access.users import create_user, set_password
from hggis.config import PROJECT_ROOT
from hggis.db.session import transaction
from tests.live_server import free_port, live_server  # noqa: F401 (re-exported for the tests)

PASSWORD = "workbench-test-password"
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "workbench"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-background-networking", "--disable-gpu", "--no-first-run",
    "--disable-component-update", "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@dataclass(frozen=True)
class WebUser:
    username: str
    role: str
    user_id: int


def add_web_user(engine: Engine, username: str, role: str, counties=None, parks=None) -> WebUser:  # noqa: ANN001
    """A user who can sign in on the web (hggis.access.users.create_user + set_password)."""
    with transaction(engine, "test setup", "workbench test user") as conn:
        uid = create_user(conn, operator(), username, role, counties, parks, display_name=f"测试{username}")
        set_password(conn, uid, PASSWORD)
    return WebUser(username, role, uid)


@dataclass
class Watch:
    """What the browser did that a clean page must not do."""

    blocked: list[str] = field(default_factory=list)  # requests to anything but localhost
    console_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # network failures and HTTP errors of subresources
    page_errors: list[str] = field(default_factory=list)  # uncaught JavaScript exceptions
    downloads: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert not self.blocked, f"requests outside localhost were attempted: {self.blocked}"
        assert not self.page_errors, f"JavaScript errors: {self.page_errors}"
        assert not self.console_errors, f"console errors: {self.console_errors}"
        # Chromium ends the navigation that turned into a download with ERR_ABORTED: not a failure
        failed = [f for f in self.failed if not any(f.startswith(f"GET {u}: net::ERR_ABORTED") for u in self.downloads)]
        assert not failed, f"failed requests: {failed}"


def watch_page(context, page) -> Watch:  # noqa: ANN001
    """Block every request that does not go to localhost (and record it); record errors."""
    watch = Watch()

    def route(r) -> None:  # noqa: ANN001
        host = urlsplit(r.request.url).hostname
        if r.request.url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            r.continue_()
        else:
            watch.blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page.on("console", lambda m: watch.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: watch.page_errors.append(str(exc)))
    page.on("download", lambda d: watch.downloads.append(d.url))
    page.on("requestfailed", lambda req: watch.failed.append(f"{req.method} {req.url}: {req.failure}"))
    page.on("response", lambda resp: watch.failed.append(f"{resp.status} {resp.url}")
            if resp.status >= 400 else None)
    return watch


def sign_in(page, base: str, user: WebUser) -> None:  # noqa: ANN001
    page.goto(f"{base}/login")
    page.get_by_label("用户名").fill(user.username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()
    assert user.username in page.locator("header .who").inner_text()


def nav(page, label: str) -> None:  # noqa: ANN001
    """Follow a link of the header's navigation (keyboard and screen-reader reachable)."""
    page.get_by_role("navigation", name="主导航").get_by_role("link", name=label).click()
    page.wait_for_load_state()


def shot(page, name: str) -> Path:  # noqa: ANN001
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def survey_zip(directory: Path, codes: list[str], origin: tuple[float, float], off_by: dict[int, float] | None = None) -> Path:
    """A small Shapefile (EPSG:4547, the 38 zone without prefix) of square lots, zipped.

    ``off_by`` {feature index: factor} makes the declared 面积 of those lots disagree with
    their geometry (the import lists that as a warning and still imports them).
    """
    from tests.io_builders import declared_mu, lots, project, write_shapefile

    geoms = lots(origin, len(codes), side_m=90)
    declared = [round(mu * (off_by or {}).get(i, 1.0), 4) for i, mu in enumerate(declared_mu(geoms))]
    shp = write_shapefile(
        directory / "survey" / "parcels.shp", project(geoms, 4547),
        {"ZDDM": codes, "MJ": declared, "DLBM": ["0601"] * len(codes)}, 4547,
    )
    target = directory / "新增宗地测量成果.zip"
    with zipfile.ZipFile(target, "w") as zf:
        for f in sorted(shp.parent.iterdir()):
            zf.write(f, f.name)
    return target


def idle_parcel(engine: Engine, park_id: int) -> str:
    """A supplied plot of the park whose agreed start passed over a year ago without a start."""
    with engine.connect() as conn:
        code = conn.execute(
            text(
                "SELECT code FROM parcels p WHERE park_id = :k AND status = 'supplied' AND retired_at IS NULL "
                "AND started_on IS NULL AND agreed_start_date < current_date - interval '13 months' "
                "AND NOT EXISTS (SELECT 1 FROM idle_cases c WHERE c.parcel_id = p.id) "
                "AND NOT EXISTS (SELECT 1 FROM idle_flags f WHERE f.parcel_id = p.id) ORDER BY code LIMIT 1"
            ),
            {"k": park_id},
        ).scalar()
    assert code, f"the demo data has no idle plot in park {park_id}"
    return code
