"""The county reserve ledger: hand sums, targets as data, contiguity, as-of from history, scope, Excel, CLI."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from openpyxl import load_workbook
from sqlalchemy import text
from typer.testing import CliRunner

from hggis import clock
from hggis.access.policy import PUBLIC, Forbidden, Principal
from hggis.config import get_settings
from hggis.db.session import transaction
from hggis.reserves.asof import GEOM_FROM_JSON
from hggis.reserves.common import InvalidRequest
from hggis.reserves.excel import write_ledger_xlsx
from hggis.reserves.ledger import dashboard_data, reserve_ledger, target_status
from hggis.reserves.targets import add_target
from tests.factories import add_park
from tests.reserves_helpers import ADMIN, add, gk_box, hand_mu


@pytest.fixture
def targets(clean_db):
    """County-specific targets added by a test are removed afterwards (the default row stays)."""
    yield clean_db
    with transaction(clean_db, "test teardown", "remove test targets") as conn:
        conn.execute(text("DELETE FROM reserve_targets WHERE adcode IS NOT NULL OR edition LIKE 'test%'"))


def _build(engine):  # noqa: ANN001, ANN202
    """黄州: two touching reserve squares + one 1 m away + on-offer + producing; 麻城 and 武穴 one each."""
    g = {
        "a": gk_box(0, 0, 300, 300),
        "b": gk_box(300, 0, 300, 300),  # touches a
        "c": gk_box(601, 0, 200, 200),  # 1 m from b: a separate block
        "offer": gk_box(0, 400, 250, 250),
        "prod": gk_box(0, 800, 250, 250),
        "mc": gk_box(0, 0, 300, 300, "421181"),
        "wx": gk_box(0, 0, 300, 300, "421182"),
    }
    with transaction(engine, "test", "setup") as conn:
        for key in ("a", "b", "c"):
            add(conn, g[key])
        add(conn, g["offer"], status="on_offer")
        add(conn, g["prod"], status="producing")
        add(conn, g["mc"], adcode="421181")
        add(conn, g["wx"], adcode="421182")
        add_target(conn, ADMIN, 100, 300, dt.date(2023, 1, 1), "test 麻城", "421181")
        add_target(conn, ADMIN, 10, 50, dt.date(2023, 1, 1), "test 武穴", "421182")
    return g


def test_ledger_matches_hand_sums_and_targets(targets):
    g = _build(targets)
    with targets.connect() as conn:
        ledger = reserve_ledger(conn, ADMIN)
    rows = {r.adcode: r for r in ledger.rows}
    assert len(rows) == 11 and "421171" in rows  # every unit, 龙感湖 included
    hz = rows["421102"]
    reserve = hand_mu(g["a"]) + hand_mu(g["b"]) + hand_mu(g["c"])
    assert hz.reserve_mu == pytest.approx(reserve, abs=0.01)
    assert hz.reserve_parcels == 3
    assert hz.on_offer_mu == pytest.approx(hand_mu(g["offer"]), abs=0.01) and hz.on_offer_parcels == 1
    assert hz.largest_block_mu == pytest.approx(hand_mu(g["a"]) + hand_mu(g["b"]), abs=0.01)
    assert hz.largest_block_parcels == 2
    # default target 500–1000: 黄州 holds ~315 亩, short by the difference
    assert (hz.target_min_mu, hz.target_max_mu) == (500.0, 1000.0)
    assert hz.status == "short" and hz.gap_mu == pytest.approx(500 - reserve, abs=0.01)
    assert hz.status_label == f"短缺 {500 - reserve:.2f} 亩"
    mc, wx = rows["421181"], rows["421182"]
    assert mc.status == "within" and mc.status_label == "达标" and mc.target_edition == "test 麻城"
    assert wx.status == "above" and wx.gap_mu == pytest.approx(hand_mu(g["wx"]) - 50, abs=0.01)
    lgh = rows["421171"]
    assert lgh.reserve_mu == 0 and lgh.status_label == "短缺 500.00 亩"
    total = ledger.total
    assert total.reserve_mu == pytest.approx(reserve + hand_mu(g["mc"]) + hand_mu(g["wx"]), abs=0.05)
    assert total.target_min_mu == 500 * 9 + 100 + 10
    assert ledger.counts == {"short": 9, "within": 1, "above": 1}


def test_target_status_edges():
    assert target_status(500, 500, 1000)[0] == "within"
    assert target_status(1000, 500, 1000)[0] == "within"
    assert target_status(499.95, 500, 1000)[:2] == ("short", 0.05)
    assert target_status(1000.5, 500, 1000)[2] == "超出 0.50 亩"


def test_target_valid_from_date(targets):
    with transaction(targets, "test", "setup") as conn:
        add(conn, gk_box(0, 0, 300, 300))
        add_target(conn, ADMIN, 50, 100, dt.date(2099, 1, 1), "test future")
    with targets.connect() as conn:
        row = next(r for r in reserve_ledger(conn, ADMIN).rows if r.adcode == "421102")
    assert (row.target_min_mu, row.target_max_mu) == (500, 1000)  # the 2099 rule is not in force yet
    officer = Principal("hz", "county_officer", counties=frozenset({"421102"}))
    with pytest.raises(Forbidden):  # targets are city-wide rules
        with transaction(targets, "hz", "try") as conn:
            add_target(conn, officer, 1, 2, dt.date(2024, 1, 1), "test officer", "421102")
    with pytest.raises(InvalidRequest):
        with transaction(targets, "admin", "try") as conn:
            add_target(conn, ADMIN, 200, 100, dt.date(2024, 1, 1), "test bad")


def test_as_of_reconstructs_status_geometry_and_area_from_history(targets):
    with transaction(targets, "test", "setup") as conn:
        a = add(conn, gk_box(0, 0, 300, 300))
        b = add(conn, gk_box(300, 0, 300, 300))
        c = add(conn, gk_box(0, 400, 200, 200))
        add(conn, gk_box(0, 800, 200, 200), status="producing")
    time.sleep(0.05)
    with targets.connect() as conn:
        t1 = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
        before = reserve_ledger(conn, ADMIN)
    time.sleep(0.05)
    shrunk = gk_box(0, 0, 300, 100)
    with transaction(targets, "officer", "挂牌出让") as conn:
        conn.execute(text("UPDATE parcels SET status = 'on_offer' WHERE code = :c"), {"c": b})
        conn.execute(text("UPDATE parcels SET geom = ST_Multi(ST_GeomFromText(:w, 4490)) WHERE code = :c"),
                     {"w": shrunk.wkt, "c": a})
        conn.execute(text("UPDATE parcels SET retired_at = now() WHERE code = :c"), {"c": c})
        add(conn, gk_box(0, 1200, 300, 300))  # new after t1
    with targets.connect() as conn:
        now = {r.adcode: r for r in reserve_ledger(conn, ADMIN).rows}["421102"]
        then = {r.adcode: r for r in reserve_ledger(conn, ADMIN, as_of=t1).rows}["421102"]
        change = {r.adcode: r for r in reserve_ledger(conn, ADMIN, since=t1).rows}["421102"]
    old = {r.adcode: r for r in before.rows}["421102"]
    assert (then.reserve_mu, then.reserve_parcels, then.largest_block_mu, then.on_offer_mu) == (
        old.reserve_mu, old.reserve_parcels, old.largest_block_mu, old.on_offer_mu)
    assert then.reserve_parcels == 3 and then.largest_block_parcels == 2
    assert now.reserve_parcels == 2  # a (shrunk) and the new one; b on offer, c retired
    assert now.reserve_mu == pytest.approx(hand_mu(shrunk) + hand_mu(gk_box(0, 1200, 300, 300)), abs=0.01)
    assert now.on_offer_mu == pytest.approx(hand_mu(gk_box(300, 0, 300, 300)), abs=0.01)
    assert change.since_reserve_mu == then.reserve_mu
    assert change.change_mu == pytest.approx(now.reserve_mu - then.reserve_mu, abs=0.01)
    assert change.change_parcels == -1


def test_as_of_before_anything_existed_is_empty(targets):
    with transaction(targets, "test", "setup") as conn:
        add(conn, gk_box(0, 0, 300, 300))
    with targets.connect() as conn:
        ledger = reserve_ledger(conn, ADMIN, as_of=dt.date(2020, 1, 1))
    assert ledger.total.reserve_mu == 0 and ledger.total.reserve_parcels == 0


def test_history_geometry_decodes_geojson_and_hex_ewkb(engine):
    expr = GEOM_FROM_JSON.format(v="CAST(:v AS jsonb)")
    with engine.connect() as conn:
        hexwkb = conn.execute(text("SELECT ST_AsEWKB(ST_GeomFromText('POINT(115 30)', 4490))::text")).scalar_one()
        for value in (f'"{hexwkb[2:]}"', '{"type": "Point", "coordinates": [115, 30]}'):
            wkt, srid = conn.execute(text(f"SELECT ST_AsText({expr}), ST_SRID({expr})"), {"v": value}).one()
            assert (wkt, srid) == ("POINT(115 30)", 4490)


def test_bad_dates(targets):
    with targets.connect() as conn:
        with pytest.raises(InvalidRequest, match="future"):
            reserve_ledger(conn, ADMIN, as_of=clock.today() + dt.timedelta(days=3))
        with pytest.raises(InvalidRequest) as err:
            reserve_ledger(conn, ADMIN, as_of=dt.date(2024, 1, 1), since=dt.date(2024, 6, 1))
        assert err.value.field == "since"


def test_scope_of_the_ledger(targets):
    _build(targets)
    with transaction(targets, "test", "setup") as conn:
        park = add_park(conn, "台账园区", "421102")
        add(conn, gk_box(0, 2000, 100, 100), park_id=park)
    officer = Principal("mc-officer", "county_officer", counties=frozenset({"421181"}))
    manager = Principal("pm", "park_manager", parks=frozenset({park}))
    with targets.connect() as conn:
        own = reserve_ledger(conn, officer)
        assert [r.adcode for r in own.rows] == ["421181"] and own.total.name == "合计（可见范围）"
        mine = reserve_ledger(conn, manager)
        assert [r.adcode for r in mine.rows] == ["421102"] and mine.rows[0].reserve_parcels == 1
        with pytest.raises(Forbidden):
            reserve_ledger(conn, PUBLIC)
        data = dashboard_data(conn, ADMIN)
    assert data["summary"]["counties_short"] == 9 and data["summary"]["reserve_mu"] > 0


def test_excel_workbook_in_chinese(targets, tmp_path):
    _build(targets)
    with targets.connect() as conn:
        ledger = reserve_ledger(conn, ADMIN, since=dt.date(2024, 1, 1))
    path = write_ledger_xlsx(ledger, tmp_path / "ledger.xlsx")
    ws = load_workbook(path).active
    assert ws.title == "标准地储备台账"
    assert ws["A1"].value.startswith("黄冈市标准地储备台账")
    headers = [c.value for c in ws[3]]
    assert headers[:3] == ["行政区划代码", "县（市、区）", "储备面积（亩）"] and "面积变化（亩）" in headers
    body = {ws.cell(row=r, column=1).value: [c.value for c in ws[r]] for r in range(4, ws.max_row + 1)}
    assert body["421181"][headers.index("目标状态")] == "达标"
    assert body["421100"][1] == "黄冈市合计"
    assert body["421102"][2] == pytest.approx(next(r.reserve_mu for r in ledger.rows if r.adcode == "421102"))


def test_cli_report_and_xlsx(targets, tmp_path, monkeypatch):
    from hggis.cli import app

    _build(targets)
    monkeypatch.setenv("DATABASE_URL", targets.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    try:
        out = tmp_path / "t.xlsx"
        result = CliRunner().invoke(app, ["reserves", "report", "--since", "2024-01-01", "--xlsx", str(out)])
        assert result.exit_code == 0, result.output
        assert "黄州区" in result.stdout and "短缺" in result.stdout and out.exists()
        bad = CliRunner().invoke(app, ["reserves", "report", "--as-of", "2024-13-01"])
        assert bad.exit_code == 1 and "not a date" in bad.output
    finally:
        get_settings.cache_clear()


def test_api_ledger_json_and_xlsx(targets):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from tests.access_helpers import make_user

    _build(targets)
    client = TestClient(create_app(targets))
    officer = make_user(targets, "mc-ledger", "county_officer", counties=["421181"])
    admin = make_user(targets, "city-ledger", "city_admin")
    assert client.get("/api/reserves/ledger").status_code == 403
    own = client.get("/api/reserves/ledger", headers=officer.headers)
    assert own.status_code == 200 and [r["adcode"] for r in own.json()["counties"]] == ["421181"]
    full = client.get("/api/reserves/ledger", params={"since": "2024-01-01"}, headers=admin.headers).json()
    assert len(full["counties"]) == 11 and full["total"]["change_mu"] == full["total"]["reserve_mu"]
    assert full["counts"] == {"short": 9, "within": 1, "above": 1}
    xlsx = client.get("/api/reserves/ledger.xlsx", headers=admin.headers)
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    bad = client.get("/api/reserves/ledger", params={"as_of": "2024-01-01", "since": "2024-02-01"}, headers=admin.headers)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "since"
    assert client.get("/api/reserves/ledger", params={"as_of": "yesterday"}, headers=admin.headers).status_code == 422
