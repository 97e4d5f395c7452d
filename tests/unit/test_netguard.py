"""The SSRF guard acts where connections are made, so redirects and extractor-found URLs are covered too."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from vidrag.domain.errors import StageFailed
from vidrag.domain.tasks import TaskOptions
from vidrag.pipeline import netguard
from vidrag.pipeline.base import StageContext
from vidrag.pipeline.download import DownloadRequest, download
from vidrag.pipeline.ffmpeg import find_ffmpeg


@pytest.mark.parametrize(("address", "blocked"), [
    ("127.0.0.1", True), ("10.1.2.3", True), ("172.16.0.1", True), ("192.168.1.1", True), ("169.254.169.254", True),
    ("100.64.0.1", True), ("0.0.0.0", True), ("224.0.0.1", True), ("::1", True), ("fe80::1", True),
    ("fd00:ec2::254", True), ("::ffff:127.0.0.1", True), ("100.100.100.200", True),
    ("8.8.8.8", False), ("1.1.1.1", False), ("2606:4700:4700::1111", False),
])
def test_blocked_addresses(address: str, blocked: bool) -> None:
    assert netguard.is_blocked_address(address) is blocked


def test_guard_only_acts_inside_the_block() -> None:
    with netguard.guarded(), pytest.raises(socket.gaierror, match="not a public address"):
        socket.getaddrinfo("127.0.0.1", 80)
    assert socket.getaddrinfo("127.0.0.1", 80)  # outside: the process is unaffected
    with netguard.guarded(enabled=False):
        assert socket.getaddrinfo("127.0.0.1", 80)


def test_yt_dlp_connections_are_checked_at_connect_time(tmp_path: Path, media_url: str) -> None:
    """The URL here is not pre-checked: the refusal comes from the connection itself, as for a redirect hop."""
    ctx = StageContext("t", tmp_path, report=lambda _p: None, is_cancelled=lambda: False)
    req = DownloadRequest(url=f"{media_url}/redirect?to={media_url}/clip.mp4", options=TaskOptions(),
                          ffmpeg=find_ffmpeg(), max_bytes=2**30, socket_timeout=5, allow_private_networks=False)
    with pytest.raises(StageFailed) as err:
        download(ctx, req)
    assert err.value.code == "url_blocked"
    assert not list(tmp_path.glob("source.*"))
