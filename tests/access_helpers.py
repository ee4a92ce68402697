"""Users and tokens for access tests (real rows, real tokens, real HTTP through the app)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from hggis.access.policy import operator
from hggis.access.users import create_user, issue_token
from hggis.db.session import transaction


@dataclass
class TestUser:
    username: str
    role: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_user(engine: Engine, username: str, role: str, counties=None, parks=None, days: int = 30) -> TestUser:  # noqa: ANN001
    with transaction(engine, "test setup", "test user") as conn:
        uid = create_user(conn, operator(), username, role, counties, parks)
        token = issue_token(conn, uid, days)
    return TestUser(username, role, token.token)
