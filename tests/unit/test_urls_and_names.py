from __future__ import annotations

import pytest

from vidrag.domain.errors import InvalidInput
from vidrag.domain.tasks import AudioFormat, TaskOptions, TaskStatus
from vidrag.domain.urls import normalize_url
from vidrag.pipeline.download import format_selector
from vidrag.storage.media import public_name, safe_stem


@pytest.mark.parametrize(("raw", "normal"), [
    ("HTTPS://Example.COM:443/Watch?v=1&utm_source=x#t=3", "https://example.com/Watch?v=1"),
    ("http://example.com", "http://example.com/"),
    ("  http://example.com:8080/a?b=1&si=abc  ", "http://example.com:8080/a?b=1"),
    ("http://[::1]:80/x", "http://[::1]/x"),
])
def test_normalize_url(raw: str, normal: str) -> None:
    assert normalize_url(raw) == normal


@pytest.mark.parametrize(("raw", "code"), [("ftp://x/y", "unsupported_scheme"), ("", "invalid_url"),
                                           ("http:///path", "invalid_url"), ("x" * 5000, "invalid_url"),
                                           ("javascript:alert(1)", "unsupported_scheme")])
def test_normalize_url_rejects(raw: str, code: str) -> None:
    with pytest.raises(InvalidInput) as err:
        normalize_url(raw)
    assert err.value.code == code


@pytest.mark.parametrize(("title", "stem"), [
    ("../../etc/passwd", "etc_passwd"), ("Hello, World!", "Hello_World"), ("", "untitled"), ("...", "untitled"),
    ("视频 标题", "视频_标题"), ("a/b\\c:d*e?f", "a_b_c_d_e_f"), ("x" * 300, "x" * 80),
])
def test_safe_stem(title: str, stem: str) -> None:
    assert safe_stem(title) == stem


def test_public_name_is_flat_and_safe() -> None:
    name = public_name("video", "../../secret", "0123abcd-ffff", "../mp4")
    assert name == "video_secret_0123ab.mp4"
    assert "/" not in name
    assert ".." not in name


def test_format_selector() -> None:
    assert format_selector(TaskOptions()) == "bestvideo*+bestaudio/best"
    assert format_selector(TaskOptions(keep_video=False)) == "bestaudio/best"
    assert "height<=720" in format_selector(TaskOptions(max_height=720))
    assert format_selector(TaskOptions(video_format="18")) == "18"


def test_seed_status_mapping_and_options_round_trip() -> None:
    assert [s.seed_status for s in TaskStatus] == ["processing", "processing", "completed", "error", "error"]
    options = TaskOptions(keep_video=False, audio_format=AudioFormat.WAV, max_height=480)
    assert TaskOptions.from_json(options.to_json()) == options
