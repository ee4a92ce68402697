"""标准地 reserves: the county ledger, control indicators, constraint layers and the site finder.

- ``ledger``: ``reserve_ledger`` (per county and city, as of any date, from history),
  ``dashboard_data``; ``excel`` writes it as a Chinese workbook.
- ``indicators``: defaults from the national table (edition as data), flags, read/set with history.
- ``constraints``: constraint and reference layers (import any format/CRS, versions, list).
- ``sites``: ``find_sites`` — contiguous candidate sites, cut by constraints, ranked and explained.
- ``tables`` (models), ``targets``, ``asof`` (history reconstruction), ``contiguity`` (the one
  definition of adjacent land), ``common``, ``commands`` (CLI).
"""
