"""Every module that declares tables, imported so Alembic sees the whole schema.

Add a module here when it declares tables; ``tests/test_schema.py`` checks the models
against the migrations through this registry.
"""

from hggis.access import tables as access_tables  # noqa: F401
from hggis.bases import tables as bases_tables  # noqa: F401
from hggis.dashboard import tables as dashboard_tables  # noqa: F401
from hggis.db import models  # noqa: F401
from hggis.db.models import Base
from hggis.evaluation import (
    publication_tables,  # noqa: F401
    tables as evaluation_tables,  # noqa: F401
)
from hggis.idle import (
    document_tables as idle_document_tables,  # noqa: F401
    tables as idle_tables,  # noqa: F401
)
from hggis.intensity import tables as intensity_tables  # noqa: F401
from hggis.io import tables as io_tables  # noqa: F401
from hggis.patrol import tables as patrol_tables  # noqa: F401
from hggis.projects import tables as projects_tables  # noqa: F401
from hggis.reserves import tables as reserves_tables  # noqa: F401
from hggis.terrain import tables as terrain_tables  # noqa: F401

metadata = Base.metadata
