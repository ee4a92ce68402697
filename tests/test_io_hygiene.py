"""What an import tells the people who upload: their own file's name, never the server's paths;
a Shapefile missing one of its parts refused by the name of that part.

Through the doors a user has: the API upload, the workbench upload page and the command line.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from hggis.cli import app as cli_app
from hggis.config import get_settings
from hggis.workbench import staging
from tests.access_helpers import make_user
from tests.io_builders import HUANGZHOU, code, lots, project, write_shapefile
from tests.workbench_helpers import PASSWORD, add_web_user

ORIGINAL = "黄州 宗地(2024).zip"  # a name the server stores sanitised: spaces and brackets


@pytest.fixture
def client(clean_db):
    with TestClient(create_app(clean_db)) as c:
        yield c


def _shapefile(directory: Path, stem: str = "survey") -> Path:
    geoms = project(lots(HUANGZHOU, 2), 4547)
    return write_shapefile(directory / f"{stem}.shp", geoms, {"宗地代码": [code(1), code(2)]}, 4547, encoding="GBK")


def _zip(shp: Path, leave_out: tuple[str, ...] = (), folder: str = "") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for part in sorted(shp.parent.glob(shp.stem + ".*")):
            if part.suffix.lower() not in leave_out:
                zf.write(part, folder + part.name)
    return buf.getvalue()


def _no_server_path(text: str) -> None:
    """Neither a temp directory, the service's var directory nor the sanitised stored name."""
    for leak in ("/tmp", "hggis-upload", str(Path(get_settings().hggis_var_dir).resolve()), "/vsizip",
                 "黄州_宗地"):
        assert leak not in text, f"{leak!r} shown to the user: {text[:500]}"


def _upload(client: TestClient, headers: dict[str, str], data: bytes, name: str = ORIGINAL):
    return client.post("/api/imports/parcels", files={"file": (name, data, "application/zip")}, headers=headers)


@pytest.mark.parametrize(("leave_out", "named"), [
    ((".dbf",), "survey.dbf（属性表）"),
    ((".shx",), "survey.shx（索引文件）"),
    ((".shx", ".dbf"), "survey.shx（索引文件）、survey.dbf（属性表）"),
])
def test_a_zip_missing_a_part_is_refused_naming_that_part(client, clean_db, tmp_path, leave_out, named) -> None:
    admin = make_user(clean_db, "hyg-parts", "city_admin")
    r = _upload(client, admin.headers, _zip(_shapefile(tmp_path), leave_out))
    assert r.status_code == 422
    body = r.json()
    assert body["status"] == "refused" and body["error"] == f"{ORIGINAL}：Shapefile 缺少 {named}"
    assert "宗地代码" not in body["error"] and ".prj" in body["hint"]
    _no_server_path(r.text)
    log = client.get(f"/api/imports/{body['import_id']}", headers=admin.headers).json()
    assert log["file_name"] == ORIGINAL and log["report"]["error"] == body["error"]


def test_a_missing_part_inside_a_folder_of_the_zip_is_named_with_its_folder(client, clean_db, tmp_path) -> None:
    admin = make_user(clean_db, "hyg-folder", "city_admin")
    r = _upload(client, admin.headers, _zip(_shapefile(tmp_path), (".dbf",), folder="成果/"))
    assert r.status_code == 422 and r.json()["error"] == f"{ORIGINAL}：Shapefile 缺少 成果/survey.dbf（属性表）"


def test_a_zip_without_its_shp_says_so(client, clean_db, tmp_path) -> None:
    admin = make_user(clean_db, "hyg-noshp", "city_admin")
    r = _upload(client, admin.headers, _zip(_shapefile(tmp_path), (".shp",)))
    assert r.status_code == 422 and r.json()["error"] == f"{ORIGINAL}：其中没有 .shp 文件（图形）"


def test_a_zip_without_its_prj_is_refused_for_its_coordinate_system(client, clean_db, tmp_path) -> None:
    admin = make_user(clean_db, "hyg-noprj", "city_admin")
    r = _upload(client, admin.headers, _zip(_shapefile(tmp_path), (".prj",)))
    body = r.json()
    assert r.status_code == 422 and body["crs_refused"] and "缺少 .prj" in body["error"]
    assert body["error"].startswith(ORIGINAL + "：")
    _no_server_path(r.text)


def test_a_read_failure_quoting_gdal_names_the_upload_not_the_server_copy(client, clean_db, tmp_path) -> None:
    """A damaged .shp: GDAL's own message names the path it opened; the user sees their zip and its member."""
    admin = make_user(clean_db, "hyg-gdal", "city_admin")
    shp = _shapefile(tmp_path)
    shp.write_bytes(b"\0" * 100)  # a .shp header of zeros: GDAL refuses it, quoting its path
    r = _upload(client, admin.headers, _zip(shp))
    assert r.status_code == 422 and r.json()["status"] == "refused"
    assert r.json()["error"].startswith(f"无法读取 survey.shp：'{ORIGINAL}/survey.shp' not recognized")
    _no_server_path(r.text)


def test_an_accepted_upload_reports_the_original_name_as_its_path(client, clean_db, tmp_path) -> None:
    admin = make_user(clean_db, "hyg-ok", "city_admin")
    r = client.post("/api/imports/parcels", files={"file": (ORIGINAL, _zip(_shapefile(tmp_path)))},
                    data={"dry_run": "true"}, headers=admin.headers)
    assert r.status_code == 200, r.text
    assert r.json()["read"]["path"] == ORIGINAL
    _no_server_path(r.text)
    stored = client.get(f"/api/imports/{r.json()['import_id']}", headers=admin.headers).json()
    _no_server_path(json.dumps(stored, ensure_ascii=False))


def test_a_damaged_workbook_names_the_uploaded_file(client, clean_db) -> None:
    admin = make_user(clean_db, "hyg-xlsx", "city_admin")
    for route in ("figures", "occupancies", "facts"):
        r = client.post(f"/api/imports/{route}", files={"file": ("企业 数据.xlsx", b"PK\3\4 not a workbook")},
                        headers=admin.headers)
        assert r.status_code == 422, (route, r.text)
        assert r.json()["error"] == "企业 数据.xlsx：无法作为 Excel（.xlsx）工作簿读取：File is not a zip file", route
        _no_server_path(r.text)


def test_a_csv_sheet_is_named_after_the_uploaded_file(client, clean_db) -> None:
    admin = make_user(clean_db, "hyg-csv", "city_admin")
    data = "宗地代码,实际开工日期\n".encode()
    r = client.post("/api/imports/facts", files={"file": ("开发 情况.csv", data)}, data={"dry_run": "true"},
                    headers=admin.headers)
    assert r.json()["sheet"] == "开发 情况"
    _no_server_path(r.text)


def _web_client(engine, name: str) -> TestClient:  # noqa: ANN001
    user = add_web_user(engine, name, "city_admin")
    client = TestClient(create_app(engine))
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    r = client.post("/login", data={"username": user.username, "password": PASSWORD, "csrf": token, "next": "/"},
                    follow_redirects=False)
    assert r.status_code == 303
    return client


def test_the_workbench_report_of_a_refused_upload_names_only_the_users_file(clean_db, tmp_path) -> None:
    client = _web_client(clean_db, "hyg-web")
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/imports").text).group(1)
    r = client.post("/imports/upload", data={"csrf": token, "kind": "parcels"},
                    files={"file": (ORIGINAL, _zip(_shapefile(tmp_path), (".dbf",)), "application/zip")},
                    follow_redirects=False)
    assert r.status_code == 303
    page = client.get(r.headers["location"])
    text = re.sub(r"<[^>]+>", " ", page.text)
    assert "survey.dbf（属性表）" in text and ORIGINAL in text
    _no_server_path(page.text)
    assert str(staging.staging_root()) not in page.text


def test_the_command_line_names_the_missing_part_of_a_folder(clean_db, tmp_path, monkeypatch) -> None:
    shp = _shapefile(tmp_path / "成果")
    shp.with_suffix(".dbf").unlink()
    monkeypatch.setenv("DATABASE_URL", clean_db.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli_app, ["import", "parcels", str(shp.parent), "--dry-run"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code != 0
    assert "缺少 survey.dbf（属性表）" in result.output, result.output


def test_a_refused_constraint_layer_upload_names_the_users_file(client, clean_db, tmp_path) -> None:
    admin = make_user(clean_db, "hyg-layer", "city_admin")
    form = {"name": "生态红线", "kind": "生态保护红线", "reason": "上传"}
    r = client.post("/api/constraint-layers", data=form, headers=admin.headers,
                    files={"file": (ORIGINAL, _zip(_shapefile(tmp_path), (".dbf",)), "application/zip")})
    assert r.status_code == 422
    assert r.json()["detail"][0]["msg"].startswith(f"{ORIGINAL}：Shapefile 缺少 survey.dbf（属性表）")
    _no_server_path(r.text)
    assert "upload.zip" not in r.text
