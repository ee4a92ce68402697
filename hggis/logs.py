"""One logging configuration for every hggis process, with the request id in every line.

A line an officer quotes from a failed upload ("请求编号 3f9c…") must lead to every line
the server wrote for that request: the app's own, the access log's, a traceback. The id
lives in a context variable that the web door sets per request; a log record factory copies
it onto every record, whichever library logs, so handlers and formats need not know about
it. Outside a request it is ``-``.
"""

from __future__ import annotations

import contextvars
import logging
import logging.config
from typing import Any

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("hggis_request_id", default="-")
FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"

_installed = False


def install_request_ids() -> None:
    """Make every log record carry ``request_id`` (idempotent, process-wide)."""
    global _installed
    if _installed:
        return
    make = logging.getLogRecordFactory()

    def record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        rec = make(*args, **kwargs)
        rec.request_id = REQUEST_ID.get()
        return rec

    logging.setLogRecordFactory(record)
    _installed = True


def log_config(level: str = "INFO") -> dict[str, Any]:
    """The dictConfig for hggis and the server it runs in (uvicorn's loggers included)."""
    handler = {"class": "logging.StreamHandler", "formatter": "hggis", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"hggis": {"format": FORMAT}},
        "handlers": {"stderr": handler},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            name: {"handlers": [], "level": level, "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }


def configure_logging(level: str = "INFO") -> None:
    """Apply the one configuration (the CLI's long-running commands and the server)."""
    install_request_ids()
    logging.config.dictConfig(log_config(level))
