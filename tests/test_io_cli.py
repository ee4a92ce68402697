"""`hggis import …` / `hggis export …` end to end through the typer app."""

from __future__ import annotations

import json

from openpyxl import load_workbook
from sqlalchemy import text

from tests.io_builders import HUANGZHOU, bowtie, code, declared_mu, lots, project, write_shapefile


def test_import_parcels_dry_run_real_run_and_export(cli, clean_db, tmp_path):
    geoms = lots(HUANGZHOU, 3)
    shp = write_shapefile(tmp_path / "z.shp", project(geoms, 4526),
                          {"宗地代码": [code(i + 1) for i in range(3)], "面积": declared_mu(geoms)}, 4526, encoding="GBK")
    dry = cli("import", "parcels", str(shp), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "EPSG:4526" in dry.stdout and "试运行" in dry.stdout and "正式导入将新增 3" in dry.stdout
    with clean_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM parcels")).scalar_one() == 0
    real = cli("import", "parcels", str(shp), "--json")
    assert real.exit_code == 0, real.output
    body = json.loads(real.stdout)
    assert body["status"] == "applied" and body["inserted"] == 3 and body["area_check"]["max_abs_diff_pct"] < 0.1
    log = cli("import", "log")
    assert "applied" in log.stdout and "dry_run" in log.stdout and "z.shp" in log.stdout
    out = tmp_path / "out.zip"
    exp = cli("export", "parcels", str(out), "--crs", "4547", "--encoding", "gbk")
    assert exp.exit_code == 0 and "3 个要素" in exp.stdout and out.exists()
    bad = cli("export", "parcels", str(tmp_path / "x.gpkg"), "--crs", "3857")
    assert bad.exit_code == 1 and "not offered" in bad.stderr


def test_refused_import_exits_1_naming_the_feature(cli, tmp_path):
    geoms = lots(HUANGZHOU, 1) + [bowtie(HUANGZHOU[0] + 0.01, HUANGZHOU[1])]
    shp = write_shapefile(tmp_path / "b.shp", project(geoms, 4547), {"宗地代码": [code(1), code(2)]}, 4547)
    res = cli("import", "parcels", str(shp))
    assert res.exit_code == 1
    assert f"要素 #1 {code(2)}" in res.stderr and "自相交" in res.stderr and res.stdout == ""
    noprj = write_shapefile(tmp_path / "n.shp", project(lots(HUANGZHOU, 1), 4547), {"宗地代码": [code(1)]}, None)
    res = cli("import", "parcels", str(noprj))
    assert res.exit_code == 1 and "--crs 4547" in res.stderr


def test_template_and_figures(cli, tmp_path):
    xlsx = tmp_path / "t.xlsx"
    res = cli("import", "template", str(xlsx))
    assert res.exit_code == 0 and load_workbook(xlsx).sheetnames[0] == "企业年度数据"
    bad = cli("import", "figures", str(xlsx))
    assert bad.exit_code == 1  # an empty template has no rows to write
    assert cli("import", "template", str(tmp_path / "t.csv")).exit_code == 1


def test_quiet_refusal_keeps_the_reason_on_one_stderr_line(cli, tmp_path):
    geoms = lots(HUANGZHOU, 1) + [bowtie(HUANGZHOU[0] + 0.01, HUANGZHOU[1])]
    shp = write_shapefile(tmp_path / "q.shp", project(geoms, 4547), {"宗地代码": [code(1), code(2)]}, 4547)
    res = cli("import", "parcels", str(shp), "--quiet")
    assert res.exit_code == 1 and res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "未写入" in lines[0], res.stderr


def test_a_refusal_raised_in_the_core_is_one_line_on_stderr(cli):
    """Commands need not translate hggis's errors: the CLI maps HggisError once."""
    res = cli("idle", "cases", "show", "999999")
    assert res.exit_code == 1 and res.stdout == ""
    assert res.stderr.startswith("error: ") and len(res.stderr.strip().splitlines()) == 1
    assert "Traceback" not in res.output
