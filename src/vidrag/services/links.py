"""Deep links into media: the source site's own time parameter, and the service's player link."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_QUERY_T = ("youtube.com", "youtu.be", "bilibili.com", "twitch.tv", "dailymotion.com")
_FRAGMENT_T = ("vimeo.com",)


def source_link(url: str | None, start: float | None) -> str | None:
    """The source URL opened at ``start`` where the site has a time parameter, else None."""
    if not url or start is None:
        return url
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    seconds = int(start)
    if any(host == d or host.endswith("." + d) for d in _QUERY_T):
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "t"]
        value = f"{seconds}s" if "youtu" in host else str(seconds)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode([*query, ("t", value)]), ""))
    if any(host == d or host.endswith("." + d) for d in _FRAGMENT_T):
        return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, f"t={seconds}s"))
    # a direct media file: W3C media fragments are understood by browsers' players
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, f"t={start:.1f}"))


def player_link(document_id: str, start: float | None, end: float | None) -> str:
    """The service's own player page, always available for media documents."""
    if start is None:
        return f"/media/{document_id}"
    return f"/media/{document_id}#t={start:.1f},{end if end is not None else start:.1f}"
