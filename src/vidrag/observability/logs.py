"""Logging: one JSON object per line (VIDRAG_LOG_FORMAT=json) or plain text, with request and task IDs.

The IDs live in context variables: the API's request middleware sets ``request_id`` for everything logged while a
request is handled (uvicorn's access line included), and a job sets ``task_id`` (and ``job``) for everything it
logs. Context variables follow asyncio tasks and ``anyio.to_thread`` calls, so nothing has to pass them around.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

REQUEST_ID: ContextVar[str | None] = ContextVar("vidrag_request_id", default=None)
TASK_ID: ContextVar[str | None] = ContextVar("vidrag_task_id", default=None)
JOB: ContextVar[str | None] = ContextVar("vidrag_job", default=None)

# What a client may send as X-Request-ID (anything else is replaced): no spaces, quotes or control characters
# that could forge log lines, and short enough to index.
_REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:@/+=\-]{1,128}")
_HANDLER_MARK = "_vidrag_handler"
LOG_FORMATS = ("text", "json")


def valid_request_id(value: str | None) -> str | None:
    """``value`` when it is acceptable as a request ID, else None (the caller generates one)."""
    if value and _REQUEST_ID_PATTERN.fullmatch(value):
        return value
    return None


@contextmanager
def log_context(*, task_id: str | None = None, job: str | None = None) -> Iterator[None]:
    """Everything logged inside carries ``task_id`` and ``job``."""
    tokens = (TASK_ID.set(task_id), JOB.set(job))
    try:
        yield
    finally:
        JOB.reset(tokens[1])
        TASK_ID.reset(tokens[0])


def context_fields() -> dict[str, str]:
    fields = {"request_id": REQUEST_ID.get(), "task_id": TASK_ID.get(), "job": JOB.get()}
    return {key: value for key, value in fields.items() if value}


# uvicorn's access line is logged as '%s - "%s %s HTTP/%s" %d' with these arguments
_ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, logger, message, request_id / task_id / job when set,
    HTTP fields for uvicorn's access lines, and the traceback as ``exception``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **context_fields(),
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            entry.update(zip(_ACCESS_FIELDS, record.args, strict=True))
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time level logger: message [request_id=… task_id=…]``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = context_fields()
        if not fields:
            return line
        first, newline, rest = line.partition("\n")  # after the message, before a traceback
        return first + " [" + " ".join(f"{k}={v}" for k, v in fields.items()) + "]" + newline + rest


_SECRET_QUERY = re.compile(r"((?:api_key|token|signature|sig)=)[^&\s]*", re.IGNORECASE)


def redact(text: str) -> str:
    """An URL or path with its secrets (``?api_key=`` for players and EventSource, signed-URL tokens) masked."""
    return _SECRET_QUERY.sub(r"\1***", text)


class RedactAccessLog(logging.Filter):
    """uvicorn's access lines carry the full path: ``?api_key=`` (the console puts it on media, thumbnails and event
    streams) must not reach a log store."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3 and isinstance(record.args[2], str):
            record.args = (*record.args[:2], redact(record.args[2]), *record.args[3:])
        return True


def configure_logging(log_format: str, level: str) -> None:
    """Send the process's logs to stderr in ``log_format``; calling it again replaces what it set up before.

    json: one handler on the root logger, and uvicorn's loggers (its access log included) lose their own
    handlers and propagate to it, so every line of the process is JSON. text: uvicorn keeps its own format; the
    root logger gets a handler only if it has none (so vidrag's INFO lines show), leaving a host's setup alone.
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"unknown log format {log_format!r}; use one of {', '.join(LOG_FORMATS)}")
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactAccessLog) for f in access.filters):
        access.addFilter(RedactAccessLog())
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    setattr(handler, _HANDLER_MARK, True)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
        logging.captureWarnings(True)  # warnings.warn() output becomes a log line (py.warnings), not raw text
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            uvicorn_logger = logging.getLogger(name)
            uvicorn_logger.handlers = []
            uvicorn_logger.propagate = True
    elif root.handlers:
        return
    else:
        handler.setFormatter(TextFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    for chatty in ("httpx", "httpcore"):  # a line per outgoing request (embeddings, LLM, rerank) at INFO
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
