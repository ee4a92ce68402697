"""Tables of the import machinery: the import log and the saved field mappings.

The log is append-only (one row per run, dry runs and refusals included), so it is not
audited; field mappings are edited by people and therefore audited like other data.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false as sa_false,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from hggis.db.models import Base, _in

IMPORT_KINDS = ("parcels", "figures", "occupancies", "facts", "projects", "chain_links")
IMPORT_STATUSES = ("applied", "dry_run", "refused", "running", "interrupted")


class ImportRun(Base):
    """One run of an import: which file (by name and SHA-256), who, when, what it did."""

    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    file_name: Mapped[str] = mapped_column(Text)
    checksum_sha256: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(Text)
    username: Mapped[str] = mapped_column(Text)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    dry_run: Mapped[bool] = mapped_column(Boolean, server_default=sa_false())
    status: Mapped[str] = mapped_column(Text)
    inserted: Mapped[int] = mapped_column(Integer, server_default="0")
    updated: Mapped[int] = mapped_column(Integer, server_default="0")
    unchanged: Mapped[int] = mapped_column(Integer, server_default="0")
    refused: Mapped[int] = mapped_column(Integer, server_default="0")
    adcodes: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    report: Mapped[dict] = mapped_column(JSONB)

    __table_args__ = (
        CheckConstraint(_in("kind", IMPORT_KINDS), name="kind"),
        CheckConstraint(_in("status", IMPORT_STATUSES), name="status"),
        CheckConstraint("checksum_sha256 ~ '^[0-9a-f]{64}$'", name="checksum_format"),
    )


class FieldMapping(Base):
    """Which file column feeds which hggis field, saved per data source.

    ``columns`` maps an hggis field to the candidate column names in order of preference;
    the row named ``default`` holds the usual Chinese and pinyin-abbreviation headers and
    is what automatic detection uses.
    """

    __tablename__ = "import_field_mappings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    columns: Mapped[dict] = mapped_column(JSONB)
    area_unit: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    __table_args__ = (
        UniqueConstraint("name", "kind", name="uq_import_field_mappings_name_kind"),
        CheckConstraint(_in("kind", IMPORT_KINDS), name="kind"),
        CheckConstraint("area_unit IS NULL OR " + _in("area_unit", ("mu", "m2", "ha")), name="area_unit"),
    )
