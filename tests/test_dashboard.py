"""The plan dashboard: targets as versioned data, figures against the database, Excel, access."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import text

from api.app import create_app
from hggis.access.policy import PUBLIC, Forbidden, Principal, operator
from hggis.dashboard.service import plan_dashboard, targets_in_force
from hggis.db.session import transaction
from hggis.reserves.ledger import reserve_ledger
from tests.maps_helpers import add_user, load_maps_demo


@pytest.fixture(scope="module")
def demo(engine):
    from tests.conftest import wipe_data

    load_maps_demo(engine)
    token, _ = add_user(engine, "dash_admin", "city_admin")
    with TestClient(create_app(engine)) as client:
        yield client, engine, {"Authorization": f"Bearer {token}"}
    wipe_data(engine)


def test_migration_holds_the_plans_2025_targets(engine):
    with engine.connect() as conn:
        t = targets_in_force(conn)
    assert t[("above_size_output", "")].min_value == 3000
    assert (t[("county_reserve", "")].min_value, t[("county_reserve", "")].max_value) == (500, 1000)
    assert t[("parks_output_over", "")].threshold == 500 and t[("parks_output_over", "")].min_value == 3
    assert t[("projects_started", "")].min_value == 400 and t[("projects_completed", "")].min_value == 300
    assert t[("above_size_threshold", "")].threshold == 2000
    assert {s for (i, s) in t if i == "cluster_tier_output"} == {"千亿", "百亿", "十亿"}


def test_a_new_version_of_a_target_is_in_force_and_audited(engine):
    with transaction(engine, "test", "目标调整") as conn:
        conn.execute(text(
            "INSERT INTO plan_targets (plan, indicator, subject, target_year, version, label, min_value, unit) "
            "SELECT plan, indicator, subject, target_year, version + 1, label, 3200, unit FROM plan_targets "
            "WHERE indicator = 'above_size_output' AND version = 1"))
        assert targets_in_force(conn)[("above_size_output", "")].min_value == 3200
        assert conn.execute(text("SELECT count(*) FROM history WHERE table_name = 'plan_targets' AND reason = '目标调整'")).scalar() == 1
        conn.rollback()


def test_figures_match_the_database(demo):
    _client, engine, _auth = demo
    with engine.connect() as conn:
        d = plan_dashboard(conn, operator(), 2024)
        total = conn.execute(text("SELECT sum(output) / 10000.0 FROM enterprise_years WHERE year = 2024 AND revenue >= 2000")).scalar()
        count = conn.execute(text("SELECT count(*) FROM enterprise_years WHERE year = 2024 AND revenue >= 2000")).scalar()
        count_prev = conn.execute(text("SELECT count(*) FROM enterprise_years WHERE year = 2023 AND revenue >= 2000")).scalar()
        started = conn.execute(text("SELECT count(*) FROM parcels WHERE land_use = '0601' AND extract(year FROM started_on) = 2024")).scalar()
        done = conn.execute(text("SELECT count(*) FROM parcels WHERE land_use = '0601' AND extract(year FROM completed_on) = 2024")).scalar()
        top_park = conn.execute(text(
            "SELECT k.name, sum(y.output) / 10000.0 FROM parks k JOIN enterprises e ON e.park_id = k.id JOIN enterprise_years y "
            "ON y.enterprise_id = e.id AND y.year = 2024 GROUP BY k.name ORDER BY 2 DESC LIMIT 1")).one()
        ledger = reserve_ledger(conn, operator())
        cluster = conn.execute(text("SELECT c.name, y.actual_output_yi::float8 FROM clusters c JOIN cluster_years y "
                                    "ON y.cluster_id = c.id AND y.year = 2024 WHERE c.tier = '百亿' ORDER BY c.id LIMIT 1")).one()
    assert d.year == 2024 and d.scope == "all"
    assert d.output["total_yi"] == pytest.approx(float(total), abs=0.05)
    assert d.output["enterprises"] == count
    assert d.output["progress_pct"] == pytest.approx(float(total) / 3000 * 100, abs=0.1)
    assert [r for r in d.above_size if r["year"] == 2024][0]["enterprises"] == count
    assert [r for r in d.above_size if r["year"] == 2024][0]["growth_pct"] == pytest.approx((count - count_prev) / count_prev * 100, abs=0.1)
    assert d.projects["years"][-1] == {"year": 2024, "started": started, "completed": done}
    assert sum(r["started"] for r in d.projects["counties"]) == started
    assert (d.parks["rows"][0]["name"], d.parks["rows"][0]["output_yi"]) == (top_park[0], pytest.approx(float(top_park[1]), abs=0.01))
    assert [r["reserve_mu"] for r in d.reserve["rows"]] == [round(r.reserve_mu, 2) for r in ledger.rows]
    row = next(r for r in d.clusters if r["name"] == cluster[0])
    assert row["output_yi"] == cluster[1] and row["tier_target_yi"] == 100


def test_scope_limits_the_figures(demo):
    _client, engine, _auth = demo
    officer = Principal(username="o", role="county_officer", counties=frozenset({"421181"}))
    with engine.connect() as conn:
        d = plan_dashboard(conn, officer, 2024)
        own = conn.execute(text("SELECT sum(y.output) / 10000.0 FROM enterprise_years y JOIN enterprises e ON e.id = y.enterprise_id "
                                "WHERE y.year = 2024 AND y.revenue >= 2000 AND e.adcode = '421181'")).scalar()
        with pytest.raises(Forbidden):
            plan_dashboard(conn, PUBLIC)
    assert d.scope == "county" and d.scope_label.startswith("本县")
    assert d.output["total_yi"] == pytest.approx(float(own), abs=0.05)
    assert all(r["output_yi"] == 0 for r in d.output["counties"] if r["adcode"] != "421181")
    assert [r["adcode"] for r in d.reserve["rows"]] == ["421181"]


def test_dashboard_page_year_selector_and_charts(demo):
    client, _engine, auth = demo
    page = client.get("/dashboard?year=2023", headers=auth)
    assert page.status_code == 200
    for needle in ("考核看板", "2023 年", "规上工业总产值", "标准地储备", "新开工", "/assets/npm/chart.js/dist/chart.umd.min.js",
                   '<option value="2024">', "导出 Excel", "示例数据"):
        assert needle in page.text, needle
    assert client.get("/dashboard?year=1999", headers=auth).status_code == 422
    r = client.get("/dashboard", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_excel_export_has_chinese_sheets_and_the_same_figures(demo):
    client, engine, auth = demo
    r = client.get("/dashboard.xlsx?year=2024", headers=auth)
    assert r.status_code == 200 and "hggis-plan-dashboard-2024.xlsx" in r.headers["content-disposition"]
    wb = load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames == ["概览", "规上工业产值", "产业集群", "标准地储备", "工业项目开工投产", "规上企业数量", "园区产值", "考核目标"]
    ws = wb["规上工业产值"]
    assert [c.value for c in ws[1]][:4] == ["县市区代码", "县市区", "规上企业（家）", "2024 年产值（亿元）"]
    total_row = [row for row in ws.iter_rows(values_only=True) if row[1] == "合计"][0]
    with engine.connect() as conn:
        d = plan_dashboard(conn, operator(), 2024)
    assert total_row[3] == d.output["total_yi"]
    cover = [row for row in wb["概览"].iter_rows(values_only=True)]
    assert any(row[0] == "规上工业总产值（亿元）" and row[1] == "≥ 3000 亿元" for row in cover)
    assert any(row[0] == "说明" and "示例数据" in row[1] for row in cover)


def test_cli_prints_and_exports_the_same_figures(demo, monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from hggis.cli import app
    from hggis.config import get_settings

    _client, engine, _auth = demo
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    try:
        with engine.connect() as conn:
            d = plan_dashboard(conn, operator(), 2024)
        shown = CliRunner().invoke(app, ["dashboard", "show", "--year", "2024"])
        assert shown.exit_code == 0, shown.output
        assert f"规上工业总产值 {d.output['total_yi']:.1f} 亿元" in shown.output
        out = tmp_path / "d.xlsx"
        exported = CliRunner().invoke(app, ["dashboard", "export", str(out), "--year", "2023"])
        assert exported.exit_code == 0 and load_workbook(out)["概览"]["B2"].value == 2023
        bad = CliRunner().invoke(app, ["dashboard", "show", "--year", "1990"])
        assert bad.exit_code == 1 and "no figures for 1990" in bad.output
    finally:
        get_settings.cache_clear()
