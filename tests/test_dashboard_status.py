"""KPI status against the plan's pace (达标 / 接近 / 落后), and on the dashboard page."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from hggis.dashboard.status import elapsed_share, kpi_status
from hggis.demo.loader import load_demo
from tests.workbench_helpers import PASSWORD, add_web_user


@pytest.mark.parametrize(("progress", "year", "expected"), [
    (100.0, 2024, "reached"),  # the target is reached early
    (70.0, 2024, "near"),  # two thirds of the plan period passed: 66.7 % is the pace
    (57.0, 2024, "near"),  # within 10 points below the pace
    (50.0, 2024, "behind"),
    (95.0, 2025, "near"),  # the last year: the pace is the whole target
    (80.0, 2025, "behind"),
    (30.0, 2023, "near"),  # first year: a third of the target is the pace
])
def test_status_follows_the_plan_pace(progress, year, expected):
    assert kpi_status(progress, year, 2025).code == expected


def test_elapsed_share_is_bounded():
    assert elapsed_share(2022, 2025) == 0 and elapsed_share(2026, 2025) == 1
    assert kpi_status(None, 2024, 2025) is None


def test_the_dashboard_shows_each_kpi_status_with_its_colour(clean_db):
    load_demo(clean_db, seed=2023)
    add_web_user(clean_db, "kpi-admin", "city_admin")
    client = TestClient(create_app(clean_db))
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"username": "kpi-admin", "password": PASSWORD, "csrf": token, "next": "/"})
    html = client.get("/dashboard").text
    badges = re.findall(r'<span class="kpi kpi-(reached|near|behind)" title="按规划期进度应完成 ([\d.]+)%">(达标|接近|落后)</span>', html)
    assert badges, "every KPI with a progress carries its status"
    labels = {"reached": "达标", "near": "接近", "behind": "落后"}
    assert all(labels[code] == label for code, _pace, label in badges)
