from __future__ import annotations

import pytest

from vidrag.services.links import player_link, source_link


@pytest.mark.parametrize(("url", "start", "link"), [
    ("https://www.youtube.com/watch?v=abc&t=5s", 83.7, "https://www.youtube.com/watch?v=abc&t=83s"),
    ("https://youtu.be/abc", 12.0, "https://youtu.be/abc?t=12s"),
    ("https://www.bilibili.com/video/BV1xx", 61.2, "https://www.bilibili.com/video/BV1xx?t=61"),
    ("https://vimeo.com/12345", 90.0, "https://vimeo.com/12345#t=90s"),
    ("https://cdn.example.com/talk.mp4", 20.46, "https://cdn.example.com/talk.mp4#t=20.5"),
    ("https://cdn.example.com/talk.mp4", None, "https://cdn.example.com/talk.mp4"),
    (None, 3.0, None),
])
def test_source_link(url: str | None, start: float | None, link: str | None) -> None:
    assert source_link(url, start) == link


def test_player_link() -> None:
    assert player_link("doc", 20.46, 23.9) == "/media/doc#t=20.5,23.9"
    assert player_link("doc", None, None) == "/media/doc"
