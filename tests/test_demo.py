"""The synthetic demo data set: reproducible, shaped like 黄冈, and loaded safely.

The generator is checked without a database; the loaded data set is checked in PostGIS
(containment, overlaps and 亩 are judged by the database, not by the generator's own
numbers). Tests that need an empty database (``clean_db``) come last in this module,
because they wipe the data set the module-scoped ``demo`` fixture loaded.
"""

from __future__ import annotations

import collections

import pytest
import shapely
from sqlalchemy import text

from hggis.db.models import PARCEL_STATUSES
from hggis.db.session import transaction
from hggis.demo import loader as demo_loader
from hggis.demo.generator import ABOVE_SIZE_REVENUE, LABEL, RESERVE_WINDOWS_MU, generate, load_county_polygons
from hggis.demo.loader import ACTOR, DemoError, load_demo
from hggis.identifiers import validate_credit_code, validate_parcel_code
from tests.conftest import wipe_data
from tests.factories import add_park

SEED = 2023
DEMO_TABLES = ("parks", "enterprises", "parcels", "occupancies", "control_indicators", "enterprise_years", "cluster_years")


@pytest.fixture(scope="module")
def counties():
    return load_county_polygons()


@pytest.fixture(scope="module")
def data(counties):
    return generate(SEED, counties)


@pytest.fixture(scope="module")
def demo(engine):
    """The engine on a database holding exactly the demo data set of ``SEED``."""
    wipe_data(engine)
    summary = load_demo(engine, seed=SEED)
    yield engine, summary
    wipe_data(engine)


def _counts(conn) -> dict[str, int]:
    return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in DEMO_TABLES + ("history",)}


# --------------------------------------------------------------------------------------
# The generator alone
# --------------------------------------------------------------------------------------


def test_same_seed_gives_identical_records(counties, data):
    again = generate(SEED, counties)
    assert again.digest() == data.digest()
    assert [p["code"] for p in again.parcels] == [p["code"] for p in data.parcels]
    assert [shapely.to_wkb(p["geom"]) for p in again.parcels[:50]] == [shapely.to_wkb(p["geom"]) for p in data.parcels[:50]]
    assert again.enterprise_years == data.enterprise_years
    other = generate(SEED + 1, counties)
    assert other.digest() != data.digest()


def test_generated_shape(data):
    assert len(data.parcels) >= 3000
    assert set(PARCEL_STATUSES) == {p["status"] for p in data.parcels}
    status = collections.Counter(p["status"] for p in data.parcels)
    assert status["producing"] > len(data.parcels) / 2
    assert 1150 <= len(data.enterprises) <= 1450
    assert len(data.parks) == 15
    assert len(data.clusters) == 30 and all(c["is_synthetic"] and c["tier"] == "十亿" for c in data.clusters)
    for p in data.parcels:
        validate_parcel_code(p["code"], p["adcode"])
    assert {p["code"][:6] for p in data.parcels if data.parks[p["park"]]["name"] == "龙感湖工业园"} == {"421171"}
    for e in data.enterprises:
        assert validate_credit_code(e["credit_code"]) == e["credit_code"]
        assert e["name"].endswith("（示例）")
    assert len({e["credit_code"] for e in data.enterprises}) == len(data.enterprises)
    areas = sorted(p["area_mu"] for p in data.parcels)
    assert 10 <= areas[len(areas) // 2] <= 60  # mostly 10–150 亩 ...
    assert 200 <= areas[-1] <= 420  # ... with a long tail


def test_generated_land_records_are_consistent(data):
    with_ci = {c["parcel"] for c in data.control_indicators}
    shares = collections.defaultdict(float)
    for o in data.occupancies:
        shares[o["parcel"]] += o["share"]
    for i, p in enumerate(data.parcels):
        st = p["status"]
        if st in ("reserve", "on_offer"):
            assert p["holder"] is None and p["intended_industry"] and i in with_ci
        elif st == "recovered":
            assert p["holder"] is None and p["contract_no"] is None
        else:
            assert p["holder"] is not None and p["contract_kind"] in ("出让", "划拨")
            assert p["agreed_start_date"] < p["agreed_completion_date"]
            assert shares[i] == pytest.approx(1.0)
        if st == "producing":
            assert p["started_on"] < p["completed_on"]
            assert 0.3 <= p["built_footprint_m2"] / (p["area_mu"] * 2000 / 3) <= 0.6
        if st == "idle_candidate":
            never_started = p["started_on"] is None
            assert never_started or (p["halted_since"] is not None and p["halted_since"].year <= 2024)
    for c in data.control_indicators:
        assert 150 <= c["investment_intensity"] <= 300 and c["far_min"] in (0.6, 0.7, 0.8, 1.0)


def test_generated_lots_share_edges_exactly(data):
    """Neighbouring lots touch along whole edges; interiors never intersect (exact predicates)."""
    geoms = [p["geom"] for p in data.parcels]
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    pairs = [(a, b) for a, b in zip(left.tolist(), right.tolist(), strict=True) if a < b]
    assert len(pairs) > len(geoms)  # most lots have neighbours in their block
    for a, b in pairs:
        assert not shapely.relate_pattern(geoms[a], geoms[b], "2********"), (data.parcels[a]["code"], data.parcels[b]["code"])


def test_generated_figures(data):
    rev = {(y["enterprise"], y["year"]): y["revenue"] for y in data.enterprise_years}
    r2024 = [r for (f, y), r in rev.items() if y == 2024]
    assert 0.55 <= sum(r >= ABOVE_SIZE_REVENUE for r in r2024) / len(r2024) <= 0.65
    crossed = [f for (f, y), r in rev.items() if y == 2024 and r >= ABOVE_SIZE_REVENUE and rev.get((f, 2023), 1e12) < ABOVE_SIZE_REVENUE]
    assert len(crossed) >= 5
    for y in data.enterprise_years:
        assert 0.9 * y["revenue"] - 0.01 <= y["output"] <= 1.2 * y["revenue"] + 0.01
        assert 0.2 * y["output"] - 0.01 <= y["value_added"] <= 0.35 * y["output"] + 0.01
    with_years = {y["enterprise"] for y in data.enterprise_years if y["revenue"] >= ABOVE_SIZE_REVENUE}
    missing = {y["enterprise"] for y in data.enterprise_years if y["emissions_t"] is None} & with_years
    assert 0.05 <= len(missing) / len(with_years) <= 0.16


# --------------------------------------------------------------------------------------
# The loaded data set, judged by PostGIS
# --------------------------------------------------------------------------------------


def test_load_is_fast_and_counts_match(demo, data):
    engine, summary = demo
    assert summary.status == "loaded"
    assert summary.seconds < 60
    with engine.connect() as conn:
        counts = _counts(conn)
        codes = {r[0] for r in conn.execute(text("SELECT code FROM parcels"))}
        statuses = {r[0] for r in conn.execute(text("SELECT DISTINCT status FROM parcels"))}
    assert counts["parcels"] == len(data.parcels) >= 3000
    assert counts["enterprises"] == len(data.enterprises)
    assert codes == {p["code"] for p in data.parcels}  # the loader wrote what the generator made
    assert statuses == set(PARCEL_STATUSES)


def test_everything_lies_inside_its_park_and_county(demo):
    engine, _ = demo
    with engine.connect() as conn:
        outside_park = conn.execute(
            text("SELECT count(*) FROM parcels p JOIN parks k ON k.id = p.park_id WHERE NOT ST_CoveredBy(p.geom, k.boundary)")
        ).scalar_one()
        parks = conn.execute(
            text(
                """
                SELECT k.name, k.adcode, ST_CoveredBy(k.boundary, c.boundary) AS inside
                FROM parks k
                JOIN counties c ON c.adcode = CASE WHEN k.adcode = '421171' THEN '421127' ELSE k.adcode END
                """
            )
        ).all()
        park_overlaps = conn.execute(
            text("SELECT count(*) FROM parks a JOIN parks b ON a.id < b.id AND ST_Intersects(a.boundary, b.boundary)")
        ).scalar_one()
        km2 = conn.execute(text("SELECT min(ST_Area(boundary::geography)), max(ST_Area(boundary::geography)) FROM parks")).one()
    assert outside_park == 0
    assert len(parks) == 15 and all(p.inside for p in parks), [p.name for p in parks if not p.inside]
    assert ("龙感湖工业园", "421171") in {(p.name, p.adcode) for p in parks}
    assert park_overlaps == 0
    assert 2.5e6 <= km2[0] and km2[1] <= 15e6


def test_parcels_do_not_overlap(demo):
    engine, _ = demo
    with engine.connect() as conn:
        bad = conn.execute(
            text(
                """
                SELECT count(*) FROM parcels a JOIN parcels b
                  ON a.id < b.id AND a.geom && b.geom AND ST_Intersects(a.geom, b.geom)
                WHERE ST_Overlaps(a.geom, b.geom)
                   OR ST_Area(ST_Intersection(a.geom, b.geom)::geography) > 1
                """
            )
        ).scalar_one()
        shared_edges = conn.execute(
            text(
                "SELECT count(*) FROM parcels a JOIN parcels b ON a.id < b.id AND a.geom && b.geom "
                "AND ST_Touches(a.geom, b.geom) AND ST_Dimension(ST_Intersection(a.geom, b.geom)) = 1"
            )
        ).scalar_one()
        gap = conn.execute(
            text(
                """
                SELECT min(ST_Distance(a.geom::geography, b.geom::geography)) FROM parcels a JOIN parcels b
                  ON a.id < b.id AND a.park_id = b.park_id AND ST_DWithin(a.geom, b.geom, 0.001)
                WHERE substr(a.code, 10, 3) <> substr(b.code, 10, 3)
                """
            )
        ).scalar_one()
    assert bad == 0
    assert shared_edges > 3000  # lots of a block share boundaries (for merging into sites)
    assert 19.5 <= gap <= 31  # lots of different blocks are a road apart


def test_reserve_per_county_spans_the_target(demo):
    """By the database's own area_mu: ≥ 2 counties below 500 亩, ≥ 2 above 1000, rest within."""
    engine, _ = demo
    with engine.connect() as conn:
        rows = dict(
            conn.execute(
                text(
                    "SELECT c.adcode, coalesce(sum(p.area_mu) FILTER (WHERE p.status = 'reserve'), 0) "
                    "FROM counties c LEFT JOIN parcels p ON p.adcode = c.adcode GROUP BY c.adcode"
                )
            ).all()
        )
    below = [a for a, mu in rows.items() if mu < 500]
    above = [a for a, mu in rows.items() if mu > 1000]
    within = [a for a, mu in rows.items() if 500 <= mu <= 1000]
    assert len(below) >= 2 and len(above) >= 2
    assert len(below) + len(above) + len(within) == 11
    for adcode, (lo, hi) in RESERVE_WINDOWS_MU.items():
        assert lo - 0.01 <= rows[adcode] <= hi + 0.01


def test_credit_codes_are_valid(demo):
    engine, _ = demo
    with engine.connect() as conn:
        bad_sql = conn.execute(text("SELECT count(*) FROM enterprises WHERE NOT hggis_credit_code_ok(credit_code)")).scalar_one()
        codes = [r[0] for r in conn.execute(text("SELECT credit_code FROM enterprises"))]
    assert bad_sql == 0
    assert all(validate_credit_code(c) == c for c in codes)


def test_median_tax_per_mu_2024(demo):
    engine, _ = demo
    with engine.connect() as conn:
        median = conn.execute(
            text(
                """
                SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY y.tax_paid / l.mu)
                FROM enterprise_years y
                JOIN (SELECT o.enterprise_id, sum(o.share * p.area_mu) AS mu
                        FROM occupancies o JOIN parcels p ON p.id = o.parcel_id GROUP BY 1) l USING (enterprise_id)
                WHERE y.year = 2024 AND l.mu >= 3
                """
            )
        ).scalar_one()
        share_above = conn.execute(
            text("SELECT avg((revenue >= 2000)::int) FROM enterprise_years WHERE year = 2024")
        ).scalar_one()
    assert 2 <= median <= 40
    assert 0.55 <= share_above <= 0.65


def test_history_names_the_demo_load_and_meta_marks_it_synthetic(demo):
    engine, _ = demo
    with engine.connect() as conn:
        actors = conn.execute(
            text(
                "SELECT DISTINCT actor, reason FROM history "
                "WHERE table_name IN ('parks', 'enterprises', 'parcels', 'occupancies', 'enterprise_years', 'control_indicators')"
            )
        ).all()
        parcel_history = conn.execute(text("SELECT count(*) FROM history WHERE table_name = 'parcels'")).scalar_one()
        parcels = conn.execute(text("SELECT count(*) FROM parcels")).scalar_one()
        meta = conn.execute(text("SELECT value FROM dataset_meta WHERE key = 'demo'")).scalar_one()
    assert actors == [(ACTOR, f"加载合成示例数据（随机种子 {SEED}）")]
    assert parcel_history == parcels
    assert meta["synthetic"] is True and meta["seed"] == SEED and meta["generator_version"] == 1
    assert meta["label"] == LABEL and meta["counts"]["parcels"] == parcels and meta["loaded_at"]


def test_loading_twice_changes_nothing(demo):
    engine, _ = demo
    with engine.connect() as conn:
        before = _counts(conn)
    again = load_demo(engine, seed=SEED)
    assert again.status == "already loaded" and "already loaded" in str(again)
    with engine.connect() as conn:
        assert _counts(conn) == before
    with pytest.raises(DemoError, match="seed 2023"):
        load_demo(engine, seed=SEED + 1)


# --------------------------------------------------------------------------------------
# Empty-database cases (these wipe the module's data set: keep them last)
# --------------------------------------------------------------------------------------


def test_refuses_to_mix_with_real_data(clean_db):
    with transaction(clean_db, "test", "a real park") as conn:
        add_park(conn, "真实园区")
    with pytest.raises(DemoError, match="refusing to mix"):
        load_demo(clean_db, seed=SEED)
    with clean_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM parcels")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM dataset_meta")).scalar_one() == 0


def test_a_failed_load_leaves_nothing_and_a_rerun_works(clean_db, monkeypatch):
    real_write = demo_loader._write

    def write_then_fail(conn, data, say):
        real_write(conn, data, say)
        raise RuntimeError("simulated crash after writing")

    monkeypatch.setattr(demo_loader, "_write", write_then_fail)
    with pytest.raises(RuntimeError, match="simulated crash"):
        load_demo(clean_db, seed=SEED)
    with clean_db.connect() as conn:
        assert all(v == 0 for v in _counts(conn).values())
        assert conn.execute(text("SELECT count(*) FROM clusters WHERE is_synthetic")).scalar_one() == 0
    monkeypatch.setattr(demo_loader, "_write", real_write)
    assert load_demo(clean_db, seed=SEED).status == "loaded"
