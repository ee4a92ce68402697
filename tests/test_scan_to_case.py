"""From a scan finding to a case in one step, on the page, for an officer (no park flag needed)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from hggis.demo.loader import load_demo
from tests.workbench_helpers import PASSWORD, add_web_user


def _signed_in(app, username: str) -> TestClient:  # noqa: ANN001
    client = TestClient(app)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    r = client.post("/login", data={"username": username, "password": PASSWORD, "csrf": token, "next": "/"},
                    follow_redirects=False)
    assert r.status_code == 303
    return client


def test_an_officer_opens_a_case_from_a_scan_result(clean_db):
    load_demo(clean_db, seed=2023)
    add_web_user(clean_db, "scan-officer", "county_officer", counties=["421102"])
    add_web_user(clean_db, "scan-manager", "park_manager", parks=[1])
    app = create_app(clean_db)
    officer = _signed_in(app, "scan-officer")
    page = officer.get("/cases").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    r = officer.post("/cases/scan", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    scan_url = r.headers["location"]
    html = officer.get(scan_url).text
    buttons = re.findall(r'name="parcel_code" value="([^"]+)"><input type="hidden" name="rule_code" value="([^"]+)"', html)
    assert buttons, "an officer is offered 立案 on findings without a case"
    code, rule = buttons[0]
    r = officer.post(scan_url + "/open", data={"csrf": csrf, "parcel_code": code, "rule_code": rule},
                     follow_redirects=False)
    assert r.status_code == 303 and re.match(r"/cases/\d+$", r.headers["location"]), r.text
    case_page = officer.get(r.headers["location"]).text
    assert code in case_page and "立案" in case_page
    with clean_db.connect() as conn:
        source, scan_id, flags = conn.execute(text(
            "SELECT c.source, c.scan_id, (SELECT count(*) FROM idle_flags f WHERE f.parcel_id = c.parcel_id) "
            "FROM idle_cases c JOIN parcels p ON p.id = c.parcel_id WHERE p.code = :c"), {"c": code}).one()
    assert source == "scan" and scan_id == int(scan_url.rsplit("/", 1)[1]) and flags == 0
    again = officer.post(scan_url + "/open", data={"csrf": csrf, "parcel_code": code, "rule_code": rule})
    assert again.status_code == 409  # one open case per parcel
    manager = _signed_in(app, "scan-manager")
    seen = manager.get(scan_url)
    assert seen.status_code == 200 and "candidates" in seen.text
    assert 'action="' + scan_url + '/open"' not in seen.text  # managers flag, officers open
