"""Generate a synthetic county project list (项目清单) of N projects, as the template has it.

Every column filled the way a county fills it: the eleven counties in turn, the four lists,
an investor with a valid credit code (new to the database, so the import registers it),
cluster and industry, signed investment in 万元, funds in place with their date, node dates
of 2024–2025 in order, 包保 leader, key flag, a 集中开工 quarter.

    .venv/bin/python bench/projects_generator.py out.xlsx [--projects 10000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
from pathlib import Path

from openpyxl import Workbook

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hggis.identifiers import make_credit_code  # noqa: E402
from hggis.projects.template import PROJECT_COLUMNS  # noqa: E402

COUNTIES = ("黄州区", "团风县", "红安县", "罗田县", "英山县", "浠水县", "蕲春县", "黄梅县", "麻城市", "武穴市")
CLUSTERS = (("麻城石材", "建材家居"), ("武穴医药化工", "医药化工"), ("黄州电子信息材料", "光电子信息"),
            ("麻城浠水汽车零配件", "装备制造"), ("蕲春蕲艾", "医药化工"))
LISTS = ("谋划类", "前期类", "新建类", "续建类")


def rows(n: int, seed: int = 15) -> list[list[object]]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        cluster, industry = CLUSTERS[i % len(CLUSTERS)]
        signed = dt.date(2024, 1, 1) + dt.timedelta(days=rnd.randrange(700))
        planned = signed + dt.timedelta(days=rnd.randrange(30, 200))
        started = planned + dt.timedelta(days=rnd.randrange(-30, 60)) if rnd.random() < 0.6 else None
        if started and started > dt.date(2025, 12, 31):
            started = None
        producing = started + dt.timedelta(days=rnd.randrange(180, 400)) if started and rnd.random() < 0.4 else None
        if producing and producing > dt.date(2025, 12, 31):
            producing = None
        investment = rnd.randrange(2000, 200000)
        funds_on = min(signed + dt.timedelta(days=rnd.randrange(30, 300)), dt.date(2025, 12, 31))
        out.append([f"合成项目{i + 1:05d}", COUNTIES[i % len(COUNTIES)], LISTS[i % 4], f"合成投资有限公司{i + 1:05d}",
                    make_credit_code(f"91421102MA{i + 7_000_000:07d}"), cluster, industry, investment,
                    round(investment * rnd.random() * 0.8), funds_on, f"领导{i % 97}", "副县长", signed, None,
                    started, producing, planned, planned + dt.timedelta(days=365), "是" if i % 7 == 0 else "否",
                    f"{planned.year}Q{(planned.month - 1) // 3 + 1}", None, None, None])
    return out


def write(path: Path, n: int) -> Path:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("项目清单")
    ws.append([h for h, _w, _n in PROJECT_COLUMNS])
    for r in rows(n):
        ws.append(r)
    wb.save(path)
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--projects", type=int, default=10_000)
    a = parser.parse_args()
    print(write(a.out, a.projects))
