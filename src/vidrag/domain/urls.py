"""URL rules that need no network: accepted schemes and the normal form used for idempotent submits."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from vidrag.domain.errors import InvalidInput

ALLOWED_SCHEMES = ("http", "https")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_TRACKING_PREFIXES = ("utm_",)
_TRACKING_KEYS = {"fbclid", "gclid", "si", "feature"}
MAX_URL_LENGTH = 4096


def normalize_url(raw: str) -> str:
    """Return the canonical form of ``raw`` or raise InvalidInput saying what is wrong with it.

    Two URLs that fetch the same media (case of scheme and host, default port, fragment, tracking
    parameters) normalise to the same string, so a resubmit finds the task already running.
    """
    url = raw.strip()
    if not url:
        raise InvalidInput("url is empty; send the http(s) address of a video page or media file", code="invalid_url")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"url is longer than {MAX_URL_LENGTH} characters", code="invalid_url")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise InvalidInput("url contains a control character (a NUL, tab or line break); send the address as it is "
                           "shown in a browser's address bar", code="invalid_url")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        if not scheme:
            raise InvalidInput(f"'{url[:200]}' is not a web address: it must start with http:// or https://",
                               code="unsupported_scheme")
        raise InvalidInput(f"url scheme '{scheme}' is not supported; use an http:// or https:// address",
                           code="unsupported_scheme")
    if not parts.hostname:
        raise InvalidInput("url has no host name; send a full address such as https://example.com/video",
                           code="invalid_url")
    try:
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"url has an invalid port: {exc}", code="invalid_url") from exc
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}{':' + parts.password if parts.password else ''}@{netloc}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not k.lower().startswith(_TRACKING_PREFIXES) and k.lower() not in _TRACKING_KEYS]
    return urlunsplit((scheme, netloc, parts.path or "/", urlencode(query), ""))
