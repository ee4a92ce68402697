"""开发区土地集约利用评价 (TD/T 1029): the land-intensity evaluation of every park, and 腾笼换鸟 what-ifs.

model.py (the versioned indicator list, weights, ideal values: ``intensity_models``, the
default from ``default_model.json``) → inputs.py (one set-based pass over the parcels, the
enterprises' figures and the idle cases, per park) → score.py (indicator values,
standardisation, the score, the potentials: pure functions over the per-park sums) →
runs.py (one atomic run per year, kept with its history) → report.py (the yearly XLSX).
whatif.py replays score.py on changed sums in memory, so a what-if can never write.
"""
