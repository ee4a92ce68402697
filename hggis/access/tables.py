"""Users, API tokens and web sessions.

Secrets are stored only as hashes. API tokens and session ids are 256-bit random, so
SHA-256 is enough to store them and finds the row by index; a slow hash (argon2) is
kept for passwords, which people choose. Users and tokens are audited like everything
else; the audit function strips hash columns. Failed sign-ins are kept for a few minutes
in ``auth_failures`` so every worker process applies the same limit.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Text,
    func,
    true as sa_true,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from hggis.access.policy import ROLES
from hggis.db.models import Base, _in

# One literal each for the database CHECKs and the checks that name the field before writing.
USERNAME_PATTERN = "^[a-z0-9][a-z0-9_.-]{1,39}$"
PHONE_PATTERN = "^[0-9+() -]{5,20}$"
USERNAME = re.compile(USERNAME_PATTERN)
PHONE = re.compile(PHONE_PATTERN)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(Text, unique=True)
    display_name: Mapped[str | None] = mapped_column(Text)
    unit: Mapped[str | None] = mapped_column(Text)  # 单位, e.g. 黄州区自然资源和规划局
    phone: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text)
    counties: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    park_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer), server_default="{}")
    active: Mapped[bool] = mapped_column(Boolean, server_default=sa_true())
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    __table_args__ = (
        CheckConstraint(f"username ~ '{USERNAME_PATTERN}'", name="username_format"),
        CheckConstraint(f"phone IS NULL OR phone ~ '{PHONE_PATTERN}'", name="phone_format"),
        CheckConstraint(_in("role", [r for r in ROLES if r != "public"]), name="role"),
    )


class UserPassword(Base):
    """A web-login password (argon2 hash); optional: API-only users have none."""

    __tablename__ = "user_passwords"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    password_hash: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(Text, unique=True)
    token_hash: Mapped[str] = mapped_column(Text, unique=True)  # SHA-256 hex of the whole token
    label: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class WebSession(Base):
    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    session_hash: Mapped[str] = mapped_column(Text, unique=True)
    csrf_token: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


FAILURE_KINDS = ("address", "account")


class AuthFailure(Base):
    """One failed sign-in, counted against the client address or the account name it tried.

    Not audited: these rows are a short-lived counter (pruned after the window), not data.
    """

    __tablename__ = "auth_failures"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(_in("kind", FAILURE_KINDS), name="kind"),
        Index("ix_auth_failures_subject", "kind", "subject", "failed_at"),
        Index("ix_auth_failures_failed_at", "failed_at"),
    )
