"""The 锻长板补短板清单 through the doors: a list imported from Excel, public links without the
confidential target firms, edits with versions, and the site finder started from a link."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from tests.access_helpers import make_user
from tests.io_builders import HUANGZHOU, code, lots, project, write_shapefile, zip_shapefile
from tests.test_projects import xlsx

HEADER = ["产业集群", "产业链环节", "链位", "长板/短板", "所属产业", "国民经济行业代码", "说明", "目标企业", "对接状态",
          "目标企业备注"]
ROWS = [
    ["黄州电子信息材料", "电子化学品", "上游", "短板", None, "2661", "湿电子化学品缺配套", "某某电子材料股份", "已接洽", "密谈"],
    ["黄州电子信息材料", "电子化学品", "上游", "短板", None, "2661", "湿电子化学品缺配套", "另一化学公司", None, None],
    ["黄州电子信息材料", "光纤预制棒", "中游", "长板", None, "3983", "已有龙头", None, None, None],
    ["麻城石材", "石材精深加工", "中游", "锻长板", "建材家居", "3032、3039", "花岗岩板材", None, None, None],
]


@pytest.fixture
def client(clean_db):
    with TestClient(create_app(clean_db)) as c:
        yield c


def _import(client, user, content: bytes, name: str = "清单.xlsx"):
    return client.post("/api/imports/chain-links", files={"file": (name, content)}, headers=user.headers)


def test_a_chain_list_is_public_without_its_target_firms(client, clean_db):
    admin = make_user(clean_db, "ch-admin", "city_admin")
    r = _import(client, admin, xlsx(HEADER, ROWS, "锻长板补短板清单"))
    assert r.status_code == 200, r.text
    assert r.json()["inserted"] == 3
    links = client.get("/api/chain-links").json()
    by_name = {x["name"]: x for x in links}
    assert set(by_name) == {"电子化学品", "光纤预制棒", "石材精深加工"}
    chem = by_name["电子化学品"]
    assert (chem["position"], chem["standing"], chem["industry_code"]) == ("upstream", "gap", "optoelectronics")
    assert chem["land_map_href"] == "/maps/land?industry=optoelectronics"
    assert by_name["石材精深加工"]["gbt4754_codes"] == ["3032", "3039"]
    public_text = client.get("/api/chain-links").text + client.get(f"/api/chain-links/{chem['id']}").text
    assert "target_firms" not in public_text and "某某电子材料股份" not in public_text and "密谈" not in public_text
    inside = {x["name"]: x for x in client.get("/api/chain-links", headers=admin.headers).json()}
    firms = {f["name"]: f for f in inside["电子化学品"]["target_firms"]}
    assert firms["某某电子材料股份"]["status"] == "contacted" and firms["另一化学公司"]["status"] == "listed"

    # edits: a target firm's status, a link's notes, each checked against the version edited
    t = firms["某某电子材料股份"]
    moved = client.patch(f"/api/chain-targets/{t['id']}", json={"version": 1, "status": "signed"}, headers=admin.headers)
    assert moved.status_code == 200 and moved.json()["status"] == "signed" and moved.json()["version"] == 2
    assert client.patch(f"/api/chain-targets/{t['id']}", json={"version": 1, "status": "dropped"},
                        headers=admin.headers).status_code == 409
    note = client.patch(f"/api/chain-links/{chem['id']}", json={"notes": "已引进一家"},
                        headers={**admin.headers, "If-Match": '"1"'})
    assert note.status_code == 200 and note.json()["notes"] == "已引进一家"
    officer = make_user(clean_db, "ch-officer", "county_officer", counties=["421102"])
    assert client.patch(f"/api/chain-links/{chem['id']}", json={"version": 2, "notes": "x"},
                        headers=officer.headers).status_code == 403
    with clean_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM history WHERE table_name IN ('chain_links', 'chain_targets')"
                                 )).scalar_one() >= 7


def test_a_bad_chain_list_names_its_rows_and_writes_nothing(client, clean_db):
    admin = make_user(clean_db, "ch-admin2", "city_admin")
    bad = xlsx(HEADER, [
        ROWS[0],
        ["不存在的集群", "某环节", "上游", "短板"] + [None] * 6,
        ["麻城石材", "荒料开采", "旁游", "长板"] + [None] * 6,
        ["黄州电子信息材料", "电子化学品", "下游", "短板"] + [None] * 6,  # same link, other position
        ["麻城石材", "荒料开采2", "上游", "短板", None, "12AB"] + [None] * 4,
    ])
    r = _import(client, admin, bad)
    assert r.status_code == 422, r.text
    assert r.json()["bad_row_numbers"] == [3, 4, 5, 6]
    with clean_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM chain_links")).scalar_one() == 0


def test_the_site_finder_starts_from_a_chain_link(client, clean_db, tmp_path):
    admin = make_user(clean_db, "ch-admin3", "city_admin")
    assert _import(client, admin, xlsx(HEADER, ROWS)).status_code == 200
    geoms = lots(HUANGZHOU, 2, side_m=200, gap_deg=0.01)
    shp = write_shapefile(tmp_path / "z.shp", project(geoms, 4547),
                          {"宗地代码": [code(1), code(2)], "状态": ["挂牌出让中"] * 2}, 4547, encoding="GBK")
    assert client.post("/api/imports/parcels", files={"file": ("宗地.zip", zip_shapefile(shp))},
                       headers=admin.headers).status_code == 200
    for serial, industry in ((1, "optoelectronics"), (2, "building_materials")):
        v = client.get(f"/api/parcels/{code(serial)}", headers=admin.headers).json()["properties"]["version"]
        r = client.patch(f"/api/parcels/{code(serial)}", json={"version": v, "intended_industry": industry},
                         headers=admin.headers)
        assert r.status_code == 200, r.text
    links = {x["name"]: x for x in client.get("/api/chain-links").json()}
    for link, expected in (("电子化学品", code(1)), ("石材精深加工", code(2))):
        found = client.get(links[link]["sites_api_href"] + "&min_mu=10&max_mu=200")
        assert found.status_code == 200, found.text
        body = found.json()
        assert [c for s in body["results"] for c in s["parcels"]] == [expected], link
        assert body["chain_link"]["name"] == link and body["chain_link"]["indicators"]["values"]
    stone = client.get(links["石材精深加工"]["sites_api_href"] + "&min_mu=10&max_mu=200").json()
    assert stone["chain_link"]["indicators"]["gbt4754_code"] == "3032"
    clash = client.get("/api/sites", params={"chain_link": links["电子化学品"]["id"], "industry": "equipment",
                                             "min_mu": 10, "max_mu": 200})
    assert clash.status_code == 422 and "industry" in clash.text
    assert client.get("/api/sites", params={"chain_link": 999999, "min_mu": 1, "max_mu": 9}).status_code == 422


def test_the_chains_page_edits_and_hides_firms_from_the_public(client, clean_db):
    admin = make_user(clean_db, "ch-admin4", "city_admin")
    assert _import(client, admin, xlsx(HEADER, ROWS)).status_code == 200
    page = client.get("/chains", headers=admin.headers)
    assert page.status_code == 200 and "某某电子材料股份" in page.text and "/maps/land?industry=optoelectronics" in page.text
    link = next(x for x in client.get("/api/chain-links").json() if x["name"] == "光纤预制棒")
    found = client.get(f"/reserves?chain_link={link['id']}", headers=admin.headers)
    assert found.status_code == 200 and 'value="optoelectronics" selected' in found.text
