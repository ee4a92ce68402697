"""Pages and files speak Chinese: no internal codes, field names, CLI flags or English reasons.

Through the doors a user has: the workbench pages as each role, an upload on the import
page, the evaluation report's Excel file, the parcel page's history.
"""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from hggis.access.policy import operator
from hggis.db.session import transaction
from tests.io_builders import code, lots, project, write_shapefile
from tests.test_workbench_pages import a_parcel, client_for, csrf_of, one, site  # noqa: F401 (the module's fixture)

HUANGZHOU = (114.88, 30.45)
#: Words that must never reach a reader: internal codes, file and module names, CLI flags.
FORBIDDEN = ("domain.md", "plan_targets", "hggis.", "hggis ", "--crs", "re-run", "synthetic", "cli:", "migration",
             "GDAL", "ST_", "Gauss-Kr")
SNAKE_CASE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")  # under_construction, emissions_t, city_admin …


def visible_text(html: str) -> str:
    """What a reader sees: the page without scripts, styles and tags (attributes are not read)."""
    body = re.sub(r"<script.*?</script>|<style.*?</style>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def internal_words(html: str) -> list[str]:
    text = visible_text(html)
    found = [w for w in FORBIDDEN if w in text]
    found += sorted(set(SNAKE_CASE.findall(text)))
    return found


@pytest.fixture(scope="module")
def runs(site) -> tuple[int, int]:  # noqa: ANN001, F811
    from hggis.evaluation.runs import run_evaluation

    engine = site["engine"]
    first = run_evaluation(engine, operator(), 2023, proceed=True).run_id
    second = run_evaluation(engine, operator(), 2024, proceed=True).run_id
    return first, second


def _pages(site: dict, runs: tuple[int, int], client) -> list[str]:  # noqa: ANN001
    engine = site["engine"]
    enterprise = one(engine, "SELECT enterprise_id FROM evaluation_results WHERE run_id = :r AND evaluated "
                             "AND adcode = '421102' AND park_id = 1 ORDER BY enterprise_id LIMIT 1", r=runs[1])[0]
    return ["/", "/search", "/cases", "/reserves", "/evaluation", f"/evaluation?run={runs[0]}",
            f"/evaluation/compare?run={runs[1]}", "/evaluation/models", f"/evaluation/enterprises/{enterprise}?run={runs[1]}",
            "/imports", "/users", "/dashboard", "/maps/land", "/maps/clusters", "/maps/evaluation", "/maps/idle",
            f"/parcels/{a_parcel(engine, status='producing', park_id=1)}",
            f"/parcels/{a_parcel(engine, status='supplied', park_id=1)}"]


@pytest.mark.parametrize("who", ["admin", "officer", "manager", None])
def test_workbench_pages_show_no_internal_words(site, runs, who) -> None:  # noqa: ANN001, F811
    client = client_for(site, who)
    extra = ["/login"] if who is None else []
    if who == "officer":  # a scan of their own, so its page and the parcel page's findings are read too
        r = client.post("/cases/scan", data={"csrf": csrf_of(client.get("/cases").text)}, follow_redirects=False)
        assert r.status_code == 303
        extra.append(r.headers["location"])
    offenders = {}
    for path in _pages(site, runs, client) + extra:
        r = client.get(path)
        assert r.status_code in (200, 403, 404), (path, r.status_code)
        if words := internal_words(r.text):
            offenders[path] = words
    assert not offenders, offenders


def test_import_refused_for_its_crs_is_chinese_and_offers_the_choice(site, tmp_path) -> None:  # noqa: ANN001, F811
    geoms = project(lots(HUANGZHOU, 2), 4547)
    shp = write_shapefile(tmp_path / "noprj" / "parcels.shp", geoms, {"宗地代码": [code(901), code(902)]}, None)
    archive = tmp_path / "无坐标系.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(shp.parent.iterdir()):
            zf.write(f, f.name)
    client = client_for(site, "officer")
    token = csrf_of(client.get("/imports").text)
    r = client.post("/imports/upload", data={"csrf": token, "kind": "parcels"},
                    files={"file": (archive.name, archive.read_bytes(), "application/zip")}, follow_redirects=False)
    pending = r.headers["location"]
    report = client.get(pending).text
    assert "没有坐标系" in visible_text(report) and "EPSG:4547" in visible_text(report)
    assert not internal_words(report), internal_words(report)
    form = report.split('id="crs-form"')[1].split("</form>")[0]
    assert '<option value="4547" selected>' in form
    r = client.post(pending + "/crs", data={"csrf": token, "crs": "4547"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == pending
    again = client.get(pending).text
    assert "试运行：未写入任何数据" in again and 'id="crs-form"' not in again
    assert "按指定" in visible_text(again) and not internal_words(again), internal_words(again)
    client.post(pending + "/confirm", data={"csrf": token})
    parcel = client.get(f"/parcels/{code(901)}").text
    assert f"原因：导入 {archive.name}" in parcel and not internal_words(parcel), internal_words(parcel)


def test_older_english_history_reasons_read_in_chinese(site) -> None:  # noqa: ANN001, F811
    engine = site["engine"]
    parcel = a_parcel(engine, status="reserve", adcode="421102")
    with transaction(engine, "cli:root (city_admin)", "import old-survey.shp") as conn:
        conn.execute(text("UPDATE parcels SET contract_no = 'HG-OLD-1' WHERE code = :c"), {"c": parcel})
    page = client_for(site, "officer").get(f"/parcels/{parcel}").text
    seen = visible_text(page)
    assert "原因：导入 old-survey.shp" in seen and "root（命令行，市级管理员）" in seen
    assert "加载合成示例数据（随机种子 2023）" in seen and "示例数据加载程序" in seen
    assert not internal_words(page), internal_words(page)


def test_evaluation_report_names_statuses_models_and_fields_in_chinese(site, runs) -> None:  # noqa: ANN001, F811
    wb = load_workbook(io.BytesIO(client_for(site, "admin").get(f"/evaluation/report?run={runs[1]}").content))
    cover = {row[0]: row[1] for row in wb["封面"].iter_rows(values_only=True) if row[0]}
    assert "已供地未开工" in cover["计入用地的宗地状态"] and "在建" in cover["计入用地的宗地状态"]
    texts = [str(v) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row
             if isinstance(v, str)]
    leaks = sorted({w for t in texts for w in [*SNAKE_CASE.findall(t), *(f for f in FORBIDDEN if f in t)]})
    assert not leaks, leaks
    quality = list(wb["数据质量"].iter_rows(min_row=2, values_only=True))
    assert quality and all(not SNAKE_CASE.search(str(row[3])) for row in quality)


def test_seeded_texts_do_not_cite_the_design_notes(clean_db) -> None:  # noqa: ANN001
    """Rule sets, legal bases and notes seeded by migrations are printed on pages: no "domain.md"."""
    from sqlalchemy import text

    with clean_db.connect() as conn:
        columns = conn.execute(text(
            "SELECT c.table_name, c.column_name FROM information_schema.columns c "
            "JOIN information_schema.tables t USING (table_schema, table_name) "
            "WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' AND c.table_name <> 'history' "
            "AND c.data_type IN ('text', 'character varying', 'jsonb')")).all()
        cited = [f"{t}.{c}" for t, c in columns
                 if conn.execute(text(f'SELECT 1 FROM "{t}" WHERE "{c}"::text LIKE :p LIMIT 1'), {"p": "%domain.md%"}).first()]
    assert len(columns) > 50 and cited == []
