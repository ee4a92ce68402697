"""Displayed times are 黄冈's clock in Chinese ("2026年12月3日 17:00") on pages and in files.

The server runs in UTC; every instant the database stores (timestamptz) must reach people
in HGGIS_TIMEZONE, the same text on the page and in the download.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from hggis.access.policy import operator
from tests.test_workbench_pages import client_for, one, site  # noqa: F401 (the module's fixture)

LOCAL = ZoneInfo("Asia/Shanghai")
CHINESE_TIME = re.compile(r"^\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}$")


def chinese(instant: dt.datetime) -> str:
    local = instant.astimezone(LOCAL)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def chinese_day(instant: dt.datetime) -> str:
    local = instant.astimezone(LOCAL)
    return f"{local.year}年{local.month}月{local.day}日"


def _freshest_parcel(engine) -> tuple[str, dt.datetime]:  # noqa: ANN001
    code, updated = one(engine, "SELECT code, updated_at FROM parcels WHERE adcode = '421102' AND retired_at IS NULL "
                                "ORDER BY code LIMIT 1")
    return code, updated


def test_search_page_csv_and_excel_show_the_same_local_time(site) -> None:  # noqa: ANN001, F811
    engine = site["engine"]
    code, updated = _freshest_parcel(engine)
    client = client_for(site, "officer")
    expected = chinese(updated)
    assert client.get(f"/search?q={code}").text.count(expected) >= 1
    rows = list(csv.reader(io.StringIO(client.get(f"/search/export?format=csv&q={code}").content.decode("utf-8-sig"))))
    column = rows[0].index("更新时间")
    assert rows[1][0] == code and rows[1][column] == expected
    sheet = load_workbook(io.BytesIO(client.get(f"/search/export?format=xlsx&q={code}").content)).active
    headers = [c.value for c in sheet[2]]
    assert sheet.cell(row=3, column=1).value == code
    assert sheet.cell(row=3, column=headers.index("更新时间") + 1).value == expected
    assert "T" not in str(sheet["A1"].value) and "导出于 " in sheet["A1"].value


def test_evaluation_cover_and_page_show_the_run_time_in_local_chinese(site) -> None:  # noqa: ANN001, F811
    from hggis.evaluation.runs import run_evaluation

    engine = site["engine"]
    run_id = run_evaluation(engine, operator(), 2024, proceed=True).run_id
    created = one(engine, "SELECT created_at FROM evaluation_runs WHERE id = :i", i=run_id)[0]
    client = client_for(site, "admin")
    wb = load_workbook(io.BytesIO(client.get(f"/evaluation/report?run={run_id}").content))
    cover = {row[0]: row[1] for row in wb["封面"].iter_rows(values_only=True) if row[0]}
    assert cover["评价时间"] == chinese(created)
    assert CHINESE_TIME.match(cover["报表生成时间"]), cover["报表生成时间"]
    texts = [str(v) for row in wb["封面"].iter_rows(values_only=True) for v in row if v is not None]
    assert not [t for t in texts if "+00:00" in t or re.search(r"\d{4}-\d{2}-\d{2}T", t)]
    page = client.get(f"/evaluation?run={run_id}").text
    assert chinese(created) in page and "+00:00" not in page


def test_parcel_page_and_its_history_use_local_chinese_time(site) -> None:  # noqa: ANN001, F811
    engine = site["engine"]
    code, updated = _freshest_parcel(engine)
    page = client_for(site, "officer").get(f"/parcels/{code}").text
    assert f"更新于 {chinese(updated)}" in page
    shown = re.findall(r"<time datetime=\"[^\"]+\">([^<]+)</time>", page)
    assert shown and all(CHINESE_TIME.match(s) for s in shown), shown


def test_map_data_date_comes_from_the_data_not_a_fixed_day(site) -> None:  # noqa: ANN001, F811
    engine = site["engine"]
    latest = one(engine, "SELECT max(updated_at) FROM parcels")[0]
    client = client_for(site, "admin")
    for path in ("/maps/land", "/maps/clusters"):
        html = client.get(path).text
        assert f"数据日期：{chinese_day(latest)}" in html, path
        assert "2025-06-30" not in html.split("数据日期")[1][:40], path
