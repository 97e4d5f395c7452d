"""The one place where errors become HTTP: a table from domain error class to status.

Every error body is ``{"code", "message"}`` (plus ``detail``, which FastAPI clients of the seed read). Under /v1/
(the OpenAI-compatible API) it also carries OpenAI's ``{"error": {"message", "type", "code"}}``, which is what
OpenAI clients show.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from vidrag.domain import errors as e
from vidrag.observability.logs import REQUEST_ID

log = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[e.VidragError], int] = {
    e.BadRequest: 400,
    e.Unauthorized: 401,
    e.NotFound: 404,
    e.Conflict: 409,
    e.PayloadTooLarge: 413,
    e.UnsupportedMediaType: 415,
    e.InvalidInput: 422,
    e.RateLimited: 429,
    e.ServiceUnavailable: 503,
    e.InsufficientStorage: 507,
}
_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type"}


def status_for(exc: e.VidragError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500


def error_body(code: str, message: str, detail: Any = None) -> dict[str, Any]:
    return {"code": code, "message": message, "detail": message if detail is None else detail}


_OPENAI_TYPES = {401: "authentication_error", 403: "permission_error", 404: "not_found_error",
                 429: "rate_limit_error"}


def _respond(request: Request, status: int, code: str, message: str, detail: Any = None,
             headers: dict[str, str] | None = None) -> JSONResponse:
    body = error_body(code, message, detail)
    if request.url.path.startswith("/v1/"):
        kind = _OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
        body["error"] = {"message": message, "type": kind, "code": code, "param": None}
    return JSONResponse(body, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(e.VidragError)
    async def _domain(request: Request, exc: e.VidragError) -> JSONResponse:
        status = status_for(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        if isinstance(exc, e.RateLimited):
            headers = {"Retry-After": str(exc.retry_after)}
        return _respond(request, status, exc.code, exc.message, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = exc.errors()
        summary = "; ".join(f"{'.'.join(str(p) for p in err.get('loc', ()) if p != 'body') or 'body'}: "
                            f"{err.get('msg', 'invalid')}" for err in problems[:5])
        return _respond(request, 422, "invalid_request", f"invalid request: {summary}",
                        jsonable_encoder(problems, exclude={"ctx", "input", "url"}))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        return _respond(request, exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(sqlalchemy.exc.TimeoutError)
    async def _pool_exhausted(request: Request, exc: sqlalchemy.exc.TimeoutError) -> JSONResponse:
        log.warning("database pool exhausted on %s %s", request.method, request.url.path)
        return _respond(request, 503, "database_busy", "every database connection is busy; try again shortly "
                        "(operators: raise VIDRAG_DATABASE_POOL_SIZE / _MAX_OVERFLOW or add replicas)",
                        headers={"Retry-After": "2"})

    @app.exception_handler(sqlalchemy.exc.DataError)
    async def _unstorable(request: Request, exc: sqlalchemy.exc.DataError) -> JSONResponse:
        # what a schema did not catch but the database refuses: a NUL character in text (PostgreSQL), a number out of
        # the column's range; the request's fault, so a 4xx and nothing stored
        log.warning("database refused a value on %s %s: %s", request.method, request.url.path, exc.orig)
        return _respond(request, 422, "invalid_value", "a value in the request cannot be stored (for example a NUL "
                        "character in text, or a number out of range); correct it and send again")

    @app.exception_handler(sqlalchemy.exc.OperationalError)
    async def _database_down(request: Request, exc: sqlalchemy.exc.OperationalError) -> JSONResponse:
        log.error("database unavailable on %s %s: %s", request.method, request.url.path, exc.orig)
        return _respond(request, 503, "database_unavailable", "the database cannot be reached; try again shortly",
                        headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Run by Starlette's outermost middleware, outside the one that adds X-Request-ID to responses; the request's
        # ID is still in the context, so the answer names it: the log lines to look for carry the same ID.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        request_id = REQUEST_ID.get()
        if request_id is None:
            return _respond(request, 500, "internal_error", "internal error; the details are in the server log")
        return _respond(request, 500, "internal_error",
                        f"internal error; the details are in the server log under request ID {request_id}",
                        headers={"X-Request-ID": request_id})
