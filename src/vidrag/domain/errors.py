"""Domain errors. Each has a stable ``code``; the API maps error classes to HTTP statuses in one table."""

from __future__ import annotations


class VidragError(Exception):
    """Base of every error a user can cause or must be told about."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidInput(VidragError):
    code = "invalid_input"


class BadRequest(VidragError):
    code = "bad_request"


class NotFound(VidragError):
    code = "not_found"


class Conflict(VidragError):
    code = "conflict"


class PayloadTooLarge(VidragError):
    code = "payload_too_large"


class UnsupportedMediaType(VidragError):
    code = "unsupported_media_type"


class InsufficientStorage(VidragError):
    code = "insufficient_storage"


class Unauthorized(VidragError):
    code = "unauthorized"


class RateLimited(VidragError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServiceUnavailable(VidragError):
    code = "service_unavailable"


class BlockedURL(InvalidInput):
    """The URL points at a host the SSRF guard refuses (loopback, private, metadata, ...)."""

    code = "url_blocked"


class TaskCancelled(VidragError):
    """Raised inside a running job when its task was cancelled."""

    code = "task_cancelled"


class StageFailed(VidragError):
    """A pipeline stage failed for a reason the user should read (bad URL, not media, ...)."""

    code = "stage_failed"
