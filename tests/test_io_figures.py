"""Enterprise annual figures from Excel/CSV: every bad row named, units, duplicates, --skip-bad."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import text

from hggis.enterprises import EnterpriseInput, create_enterprise
from hggis.io.figures_import import SHEET_NAME, FiguresImportOptions, import_figures
from hggis.io.template import TEMPLATE_COLUMNS, build_template
from tests.factories import credit_code
from tests.io_builders import CITY_ADMIN, officer

HEADERS = ["统一社会信用代码", "企业名称", "所属县（市、区）", "年度", "税收（万元）", "主营业务收入（万元）", "年平均从业人员（人）"]


def _xlsx(path, headers, rows, title_row: str | None = None):
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET_NAME
    if title_row:
        ws.append([title_row])
    ws.append(headers)
    for r in rows:
        ws.append(list(r))
    wb.save(path)
    return path


def _enterprise(engine, serial: int, adcode: str = "421102") -> str:
    code = credit_code(serial)
    with engine.begin() as conn:
        create_enterprise(conn, EnterpriseInput(credit_code=code, name=f"企业{serial}", adcode=adcode))
    return code


def _years(engine) -> dict[tuple[str, int], dict]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT e.credit_code, y.* FROM enterprise_years y JOIN enterprises e ON e.id = y.enterprise_id")
        ).mappings().all()
    return {(r["credit_code"], r["year"]): dict(r) for r in rows}


def test_three_bad_rows_are_all_named_and_nothing_is_written(clean_db, tmp_path):
    a, b = _enterprise(clean_db, 1), _enterprise(clean_db, 2)
    bad_code = a[:17] + ("0" if a[17] != "0" else "1")
    path = _xlsx(tmp_path / "bureau.xlsx", HEADERS, [
        (a, "企业1", "黄州区", 2024, 120.5, 8600, 150),  # row 2: good
        (bad_code, "企业1", "黄州区", 2024, 80, 900, 20),  # row 3: bad check character
        (b, "企业2", "黄州区", "二〇二四", 50, 700, 30),  # row 4: year not a number
        (b, "企业2", "黄州区", 2023, "约50", 700, 30),  # row 5: tax not a number
        (b, "企业2", "黄州区", 2024, 66, 800, 31),  # row 6: good
    ])
    report = import_figures(clean_db, CITY_ADMIN, path)
    assert report.status == "refused"
    assert report.bad_row_numbers == [3, 4, 5]
    by_row = {c.row: c for c in report.bad_rows}
    assert by_row[3].column == "A 统一社会信用代码" and "校验码" in by_row[3].reason
    assert by_row[4].column == "D 年度" and by_row[4].value == "二〇二四"
    assert by_row[5].column == "E 税收（万元）" and "不是数字" in by_row[5].reason
    assert _years(clean_db) == {}
    # --skip-bad writes the two good rows and lists the three skipped ones
    report = import_figures(clean_db, CITY_ADMIN, path, FiguresImportOptions(skip_bad=True))
    assert report.status == "applied" and report.skipped_rows == 3 and report.inserted == 2
    years = _years(clean_db)
    assert set(years) == {(a, 2024), (b, 2024)}
    assert years[(a, 2024)]["tax_paid"] == Decimal("120.50") and years[(a, 2024)]["employees"] == 150


def test_units_in_headers_are_converted_to_wan_yuan(clean_db, tmp_path):
    a = _enterprise(clean_db, 3)
    headers = ["统一社会信用代码", "年度", "税收（元）", "主营业务收入（亿元）", "用电量（千瓦时）", "综合能耗（吨标准煤）"]
    path = _xlsx(tmp_path / "yuan.xlsx", headers, [(a, 2024, 1_234_500, 1.5, 2_500_000, 300)], title_row="2024年度企业数据")
    report = import_figures(clean_db, CITY_ADMIN, path)
    assert report.status == "applied", report.to_dict()
    y = _years(clean_db)[(a, 2024)]
    assert y["tax_paid"] == Decimal("123.45")
    assert y["revenue"] == Decimal("15000.00")
    assert y["electricity_10k_kwh"] == Decimal("250.00")
    assert y["energy_tce"] == Decimal("300.00")
    assert any("元 已换算为万元" in n for n in report.notes)


def test_money_column_without_unit_is_refused(clean_db, tmp_path):
    a = _enterprise(clean_db, 4)
    path = _xlsx(tmp_path / "nounit.xlsx", ["统一社会信用代码", "年度", "税收"], [(a, 2024, 100)])
    report = import_figures(clean_db, CITY_ADMIN, path)
    assert report.status == "refused" and "未注明单位" in report.error and "税收（万元）" in report.hint


def test_duplicates_of_code_and_year_are_refused_both(clean_db, tmp_path):
    a = _enterprise(clean_db, 5)
    path = _xlsx(tmp_path / "dup.xlsx", HEADERS, [(a, "", "", 2024, 10, 100, 5), (a, "", "", 2024, 11, 100, 5)])
    report = import_figures(clean_db, CITY_ADMIN, path)
    assert report.bad_row_numbers == [2, 3]
    assert all("重复" in c.reason for c in report.bad_rows)


def test_unknown_enterprise_created_with_name_and_county_else_refused(clean_db, tmp_path):
    new = credit_code(6000)
    path = _xlsx(tmp_path / "new.xlsx", HEADERS, [(new, "黄梅新材料有限公司", "黄梅", 2024, 30, 500, 40)])
    report = import_figures(clean_db, CITY_ADMIN, path, FiguresImportOptions(dry_run=True))
    assert report.status == "dry_run" and report.new_enterprises == [
        {"credit_code": new, "name": "黄梅新材料有限公司", "adcode": "421127"}
    ]
    report = import_figures(clean_db, CITY_ADMIN, path)
    assert report.status == "applied" and report.enterprises_created == 1
    with clean_db.connect() as conn:
        row = conn.execute(text("SELECT name, adcode FROM enterprises WHERE credit_code = :c"), {"c": new}).one()
    assert tuple(row) == ("黄梅新材料有限公司", "421127")
    # Without name/county columns the row is refused.
    other = credit_code(6001)
    path2 = _xlsx(tmp_path / "noname.xlsx", ["统一社会信用代码", "年度", "税收（万元）"], [(other, 2024, 1)])
    report = import_figures(clean_db, CITY_ADMIN, path2)
    assert report.status == "refused" and "未登记的企业" in report.bad_rows[0].reason


def test_county_officer_may_only_import_figures_of_their_county(clean_db, tmp_path):
    mine, theirs = _enterprise(clean_db, 7, "421127"), _enterprise(clean_db, 8, "421102")
    path = _xlsx(tmp_path / "scope.xlsx", HEADERS, [(mine, "", "", 2024, 1, 1, 1), (theirs, "", "", 2024, 1, 1, 1)])
    report = import_figures(clean_db, officer("421127"), path)
    assert report.bad_row_numbers == [3] and "不在" in report.bad_rows[0].reason and "导入范围" in report.bad_rows[0].reason


def test_gbk_csv_and_dry_run(clean_db, tmp_path):
    a = _enterprise(clean_db, 9)
    path = tmp_path / "tax.csv"
    path.write_bytes(("统一社会信用代码,年度,税收（万元）,安全环保事故（是/否）\r\n" + f"{a},2024,12.5,是\r\n").encode("gbk"))
    report = import_figures(clean_db, CITY_ADMIN, path, FiguresImportOptions(dry_run=True))
    assert report.status == "dry_run" and report.good_rows == 1
    assert _years(clean_db) == {}
    report = import_figures(clean_db, CITY_ADMIN, path)
    y = _years(clean_db)[(a, 2024)]
    assert y["tax_paid"] == Decimal("12.50") and y["accident"] is True
    with clean_db.connect() as conn:
        hist = conn.execute(text("SELECT reason FROM history WHERE table_name = 'enterprise_years'")).scalars().all()
        log = conn.execute(text("SELECT kind, status, inserted FROM imports ORDER BY id")).all()
    assert hist == ["导入 tax.csv"]
    assert [tuple(r) for r in log] == [("figures", "dry_run", 0), ("figures", "applied", 1)]


def test_template_round_trip(clean_db, tmp_path):
    wb = load_workbook(io.BytesIO(build_template()))
    ws = wb[SHEET_NAME]
    assert [c.value for c in ws[1]] == [h for h, _w, _n in TEMPLATE_COLUMNS]
    assert "填写说明" in wb.sheetnames
    a = _enterprise(clean_db, 10)
    ws.append([a, "企业10", "黄州区", 2024, 88, 5000, 1200, 5200, 900, 300, 1.5, 120, 95, "否", "否", 2015])
    path = tmp_path / "filled.xlsx"
    wb.save(path)
    report = import_figures(clean_db, CITY_ADMIN, path)
    assert report.status == "applied", report.to_dict()
    y = _years(clean_db)[(a, 2024)]
    assert (y["tax_paid"], y["value_added"], y["emissions_t"], y["employees"], y["production_start_year"]) == (
        Decimal("88.00"), Decimal("1200.00"), Decimal("1.500"), 95, 2015,
    )


@pytest.mark.parametrize("year", [1989, 2999])
def test_years_out_of_range_are_bad(clean_db, tmp_path, year):
    a = _enterprise(clean_db, 11)
    path = _xlsx(tmp_path / "y.xlsx", ["统一社会信用代码", "年度", "税收（万元）"], [(a, year, 1)])
    report = import_figures(clean_db, CITY_ADMIN, path)
    assert report.bad_row_numbers == [2] and "年度不在" in report.bad_rows[0].reason
