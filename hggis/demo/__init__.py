"""The synthetic demo data set (示例数据) of 黄冈: parks, parcels, enterprises, figures.

- ``hggis.demo.parks``: the real parks (names, counties, approximate places, menus).
- ``hggis.demo.generator``: ``generate(seed, county_polygons) -> DemoData``, pure and
  reproducible (same seed, same records).
- ``hggis.demo.loader``: ``load_demo(engine, seed)`` writes it in one audited transaction
  (``hggis demo load``).

Every record is synthetic and marked so: the ``dataset_meta`` row ``demo`` says
``"synthetic": true`` with the seed, and names end in （示例）.
"""

from hggis.demo.generator import GENERATOR_VERSION, DemoData, generate, load_county_polygons
from hggis.demo.loader import DemoError, DemoSummary, load_demo

__all__ = ["GENERATOR_VERSION", "DemoData", "DemoError", "DemoSummary", "generate", "load_county_polygons", "load_demo"]
