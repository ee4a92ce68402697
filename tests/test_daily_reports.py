"""Reports that say what happened: refused imports, swapped axes, unevaluated land, rankings, comparisons.

Each through the page a user opens (the import page with a real upload, the evaluation
page and map, the comparison page), over the demo data in a real PostGIS.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from hggis.access.policy import operator
from tests.io_builders import code, lots, project, swap_xy, write_shapefile
from tests.test_daily_words import visible_text
from tests.test_maps import _overlay, _overlay_data
from tests.test_workbench_pages import client_for, csrf_of, one, site  # noqa: F401 (the module's fixture)

HUANGZHOU = (114.88, 30.45)


@pytest.fixture(scope="module")
def runs(site) -> tuple[int, int]:  # noqa: ANN001, F811
    from hggis.evaluation.runs import run_evaluation

    engine = site["engine"]
    return (run_evaluation(engine, operator(), 2023, proceed=True).run_id,
            run_evaluation(engine, operator(), 2024, proceed=True).run_id)


def _upload(client, path: Path, **fields: str) -> tuple[str, str]:  # noqa: ANN001
    """Upload a parcel file on the import page; (pending page URL, its HTML)."""
    token = csrf_of(client.get("/imports").text)
    r = client.post("/imports/upload", data={"csrf": token, "kind": "parcels", **fields},
                    files={"file": (path.name, path.read_bytes(), "application/octet-stream")}, follow_redirects=False)
    assert r.status_code == 303, r.text[:300]
    return r.headers["location"], client.get(r.headers["location"]).text


def _counts(html: str) -> dict[str, str]:
    table = html.split('id="counts"')[1].split("</table>")[0]
    return {k: re.sub(r"<[^>]+>", "", v).strip() for k, v in re.findall(r'<th scope="row">([^<]+)</th><td>(.*?)</td>', table)}


def _zip(directory: Path, shp: Path, name: str) -> Path:
    target = directory / name
    with zipfile.ZipFile(target, "w") as zf:
        for f in sorted(shp.parent.iterdir()):
            zf.write(f, f.name)
    return target


def test_a_refused_file_does_not_say_it_will_add_parcels(site, tmp_path) -> None:  # noqa: ANN001, F811
    geoms = project(lots(HUANGZHOU, 4), 4547)
    codes = [code(801), code(802), code(803, "421181"), code(804, "421181")]  # the last two: another county
    shp = write_shapefile(tmp_path / "mixed" / "parcels.shp", geoms, {"宗地代码": codes}, 4547)
    _pending, html = _upload(client_for(site, "officer"), _zip(tmp_path, shp, "混合县.zip"))
    counts = _counts(html)
    assert counts["拒绝"] == "2" and counts["无问题的要素"] == "2", counts
    assert "将新增" not in counts and "将更新" not in counts, counts
    assert counts["写入"].startswith("无：整个文件被拒绝"), counts
    assert "已拒绝：未写入任何数据" in html


def _csv(path: Path, geoms: list) -> Path:  # noqa: ANN001
    lines = ["宗地代码,WKT"] + [f'{code(810 + i)},"{g.wkt}"' for i, g in enumerate(geoms)]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_a_csv_with_swapped_axes_is_told_so(site, tmp_path) -> None:  # noqa: ANN001, F811
    client = client_for(site, "officer")
    all_swapped = _csv(tmp_path / "全部填反.csv", swap_xy(project(lots(HUANGZHOU, 2), 4547)))
    _pending, html = _upload(client, all_swapped, crs="4547")
    text = visible_text(html)
    assert "X、Y 坐标填反" in text and "请交换 X、Y 两列" in text
    assert 'id="crs-form"' not in html  # a coordinate-system choice cannot mend swapped columns
    good = project(lots(HUANGZHOU, 3), 4547)
    one_swapped = _csv(tmp_path / "一行填反.csv", [good[0], good[1], *swap_xy([good[2]])])
    _pending, html = _upload(client, one_swapped, crs="4547")
    issues = html.split('id="issues"')[1].split("</table>")[0]
    row = next(r for r in issues.split("<tr") if code(812) in r)
    assert "位于黄冈市范围外" in row and "X、Y 坐标很可能填反" in row, row
    assert all("填反" not in r for r in issues.split("<tr") if code(810) in r or code(811) in r)


def test_the_evaluation_map_says_why_a_parcel_with_land_has_no_class(site, runs) -> None:  # noqa: ANN001, F811
    engine = site["engine"]
    page = client_for(site, "manager").get("/maps/evaluation?year=2024").text
    features = _overlay(page, "parcels")["features"]  # a park manager's parcels are inline
    unrated = [f["properties"] for f in features if f["properties"]["class_code"] == "-" and f["properties"].get("land_mu")]
    assert unrated, "the demo has unevaluated units with land in park 1"
    for props in unrated:
        expected = one(engine, "SELECT r.reason FROM evaluation_results r JOIN enterprises e ON e.id = r.enterprise_id "
                               "WHERE r.run_id = :r AND r.name = :n", r=runs[1], n=props["enterprise"])[0]
        assert props["reason"] == expected and expected
    opts = next(o["opts"] for o in _overlay_data(page) if o["opts"].get("register") == "parcels")
    assert ["reason", "未评价原因", "text"] in opts["popup"]["fields"]


def test_rankings_show_the_figure_they_are_sorted_by(site, runs) -> None:  # noqa: ANN001, F811
    html = client_for(site, "admin").get(f"/evaluation?run={runs[1]}").text
    for table_id in ("counties", "parks"):
        table = html.split(f'id="{table_id}"')[1].split("</table>")[0]
        head = re.findall(r'<th scope="col">([^<]+)</th>', table)
        assert head[2] == "工业用地亩均税收（万元/亩）（排名依据）", head
        ranked = []
        for row in table.split("<tr>")[2:]:
            cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            if cells and cells[0] not in ("", "—"):
                ranked.append((int(cells[0]), float(cells[2].replace(",", ""))))
        assert len(ranked) >= 2
        assert [v for _, v in sorted(ranked)] == sorted((v for _, v in ranked), reverse=True), ranked
    assert "排名依据：工业用地亩均税收（万元/亩）" in visible_text(html)


def test_compare_without_a_run_number_compares_the_newest_run(site, runs) -> None:  # noqa: ANN001, F811
    client = client_for(site, "admin")
    r = client.get("/evaluation/compare")
    assert r.status_code == 200, visible_text(r.text)[:300]
    seen = visible_text(r.text)
    assert "没有评价批次" not in seen and "2024 年度与 2023 年度比较" in seen
    assert f"批次 #{runs[0]} → #{runs[1]}" in seen
    assert client.get("/evaluation/compare?run=999").status_code == 404
    assert "现有批次" in visible_text(client.get("/evaluation/compare?run=999").text)
