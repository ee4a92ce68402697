"""Who may see and change what: principals, the policy matrix, scope checks, tokens."""

from hggis.access.policy import (
    PUBLIC,
    ROLES,
    Forbidden,
    Principal,
    authorize,
    can,
    scope_clause,
)

__all__ = ["ROLES", "Forbidden", "Principal", "PUBLIC", "authorize", "can", "scope_clause"]
