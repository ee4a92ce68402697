"""Rendering of the Chinese pages: one template environment, the caller in every page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.nav import nav_items
from api.security import resolve_principal
from hggis.access.policy import ROLE_LABELS

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))


def render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    principal = resolve_principal(request)
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "principal": principal,
            "role_label": ROLE_LABELS.get(principal.role, principal.role),
            "csrf_token": getattr(request.state, "csrf_token", None),
            "nav": nav_items(request, principal),
            **context,
        },
        status_code=status_code,
    )
