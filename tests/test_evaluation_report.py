"""The Excel report, written by `hggis evaluate --year 2024 --xlsx`, read back and reconciled with the database."""

from __future__ import annotations

import pytest
from openpyxl import load_workbook
from sqlalchemy import text
from typer.testing import CliRunner

from hggis.config import get_settings
from hggis.evaluation.report import display_width
from tests.evaluation_helpers import db  # noqa: F401
from tests.test_evaluation import build_hand_dataset


@pytest.fixture
def cli(db, monkeypatch):  # noqa: ANN001, ANN201
    from hggis.cli import app

    monkeypatch.setenv("DATABASE_URL", db.url.render_as_string(hide_password=False))
    get_settings.cache_clear()

    def invoke(*args: str):  # noqa: ANN202
        return CliRunner().invoke(app, list(args))

    yield invoke
    get_settings.cache_clear()


def _sheet_rows(ws):  # noqa: ANN001, ANN202
    headers = [c.value for c in ws[1]]
    return headers, [dict(zip(headers, row, strict=True)) for row in ws.iter_rows(min_row=2, values_only=True)]


def test_cli_run_and_excel_reconcile_with_the_database(db, cli, tmp_path):
    park, a, small = build_hand_dataset(db)
    out = tmp_path / "评价.xlsx"
    result = cli("evaluate", "--year", "2024", "--xlsx", str(out))
    assert result.exit_code == 0, result.output
    assert "evaluated 10" in result.stdout and "规上: A 1  B 4  C 1  D 0  T 0" in result.stdout and out.exists()
    wb = load_workbook(out)
    assert wb.sheetnames == ["封面", "规上企业", "规下企业", "租赁企业（规上）", "租赁企业（规下）", "园区", "县（市、区）", "未参评企业", "数据质量", "差别化政策"]
    with db.connect() as conn:
        run = conn.execute(text("SELECT * FROM evaluation_runs")).one()
        db_rows = {r.credit_code: r for r in conn.execute(text("SELECT * FROM evaluation_results WHERE run_id = :r"),
                                                         {"r": run.id})}
        agg = conn.execute(text("SELECT * FROM evaluation_aggregates WHERE run_id = :r AND level = 'park'"),
                           {"r": run.id}).one()
    # cover: the model parameters
    cover = {row[0]: row[1] for row in wb["封面"].iter_rows(min_row=1, values_only=True) if row[0]}
    assert cover["评价年度"] == 2024 and cover["评价批次号"] == run.id
    assert cover["参评用地门槛（亩）"] == 3 and cover["规上企业营业收入门槛（万元）"] == 2000
    assert cover["单项得分上限（倍权重）"] == 2 and "A类 20%" in cover["类别名额（累计比例）"]
    assert "默认模型" in cover["评价模型"]
    # group sheets: every evaluated row, every number equal to the database's
    seen = 0
    for sheet, group, n_ind in (("规上企业", "above", 6), ("规下企业", "below", 2)):
        ws = wb[sheet]
        headers, rows = _sheet_rows(ws)
        assert ws.freeze_panes == "C2"
        assert "亩均税收（万元/亩）" in headers and "亩均税收得分（分）" in headers and "用地面积（亩）" in headers
        value_cols = headers[16:16 + n_ind]
        score_cols = headers[16 + n_ind:16 + 2 * n_ind]
        for row in rows:
            r = db_rows[row["统一社会信用代码"]]
            assert r.size_group == group and r.evaluated
            assert (row["排名"], row["类别"], row["按名额类别"]) == (r.rank, r.class_code, r.quota_class)
            assert row["总分（分）"] == pytest.approx(float(r.total_score))
            assert row["用地面积（亩）"] == pytest.approx(r.land_mu)
            assert row["税收（万元）"] == pytest.approx(r.tax_paid)
            assert [row[c] for c in score_cols] == pytest.approx(r.indicator_scores)
            values = [row[c] for c in value_cols]
            assert values == [pytest.approx(v) if v is not None else None for v in r.indicator_values]
            seen += 1
        # numbers are numbers, with a number format; widths fit the headers
        for cell in ws[2]:
            if isinstance(cell.value, (int, float)):
                assert cell.data_type == "n" and cell.number_format != "General"
        for j, h in enumerate(headers, start=1):
            letter = ws.cell(row=1, column=j).column_letter
            assert ws.column_dimensions[letter].width >= min(60, display_width(h)), h
    assert seen == 10
    # not evaluated, with the reasons of the database
    _, missing = _sheet_rows(wb["未参评企业"])
    assert {(m["统一社会信用代码"], m["原因"]) for m in missing} == {
        (c, r.reason) for c, r in db_rows.items() if not r.evaluated
    }
    # parks: the stored aggregates
    _, parks = _sheet_rows(wb["园区"])
    assert len(parks) == 1 and parks[0]["园区"] == "手算园区" and parks[0]["排名"] == 1
    assert parks[0]["亩均税收（万元/亩）"] == pytest.approx(agg.tax_per_mu)
    assert parks[0]["土地供应率（%）"] == pytest.approx(agg.supply_rate)
    assert parks[0]["工业用地亩均税收（万元/亩）"] == pytest.approx(agg.industrial_tax_per_mu)
    assert parks[0]["A类（家）"] == 2 and parks[0]["C类（家）"] == 2
    assert wb["园区"]["U2"].number_format == "0.0%"
    # the policies sheet lists the D surcharge as a number
    _, pol = _sheet_rows(wb["差别化政策"])
    assert any(p["类别"] == "D" and p["价格调整"] == pytest.approx(0.10) for p in pol)


def test_cli_commands(db, cli, tmp_path):
    build_hand_dataset(db)
    assert cli("evaluate", "--year", "2024").exit_code == 0
    shown = cli("evaluate", "show", "E6", "--year", "2024")
    assert shown.exit_code == 1 and "error:" in shown.output  # not a credit code or id
    with db.connect() as conn:
        code = conn.execute(text("SELECT credit_code FROM enterprises WHERE name = 'E6'")).scalar_one()
    shown = cli("evaluate", "show", code, "--year", "2024")
    assert shown.exit_code == 0, shown.output
    assert "总分 36.91" in shown.stdout and "平均得分 11.71" in shown.stdout and "C类" in shown.stdout
    assert cli("evaluate", "results", "--year", "2024", "--class", "A").stdout.count("\n") == 3  # header + 2
    created = cli("evaluate", "model", "create", "--name", "五亩门槛", "--valid-from", "2024", "--base", "1",
                  "--set", "min_land_mu=5")
    assert created.exit_code == 0, created.output
    assert "五亩门槛" in cli("evaluate", "model", "list").stdout
    bad = cli("evaluate", "model", "create", "--name", "坏", "--valid-from", "2024", "--set", "nosuch=1")
    assert bad.exit_code == 1 and "no field 'nosuch'" in bad.output
    rerun = cli("evaluate", "--year", "2024", "--json")
    assert rerun.exit_code == 0 and '"model_name": "五亩门槛"' in rerun.stdout
    assert cli("evaluate", "--year", "2023").exit_code == 1  # no figures for 2023
    cmp = cli("evaluate", "compare", "--from", "2024", "--to", "2024")
    assert cmp.exit_code == 0 and "moved to D: 0" in cmp.stdout
    report = tmp_path / "r.xlsx"
    assert cli("evaluate", "report", "--year", "2024", "--xlsx", str(report)).exit_code == 0 and report.exists()
    q = cli("evaluate", "quality", "--year", "2024")
    assert q.exit_code == 0 and "0 blocking" in q.stdout and "主要污染物排放量缺失" in q.stdout
