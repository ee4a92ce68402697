"""亩均效益综合评价: per-mu evaluation of enterprises and parks (domain.md §5).

A run goes model.py (the versioned parameters of the year) → land.py (land per
enterprise from occupancies × ``parcels.area_mu``, lessee rules) → quality.py (findings
before scoring) → compute.py (indicators, benchmarks, scores, ranks, quota classes,
overrides) → runs.py (one atomic transaction that stores everything) → aggregates.py
(parks and counties, park land intensity, ranking). results.py reads results and explains
one; report.py writes the Excel report; policies.py holds the differential policies per
class; service.py the live quality report; frames.py the bulk transfer between
PostgreSQL and pandas. The API (api/routes/evaluation.py) and the CLI (commands.py) call
these and nothing else.
"""
