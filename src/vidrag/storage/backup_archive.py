"""The backup archive: one zstd-compressed tar stream, manifest first, read and written as a stream (a restore
verifies every member's checksum while it extracts, before anything reaches the target)."""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import zstandard

from vidrag.storage.backup import (
    CHUNK,
    MANIFEST,
    Advance,
    BackupError,
    CorruptBackup,
    FileEntry,
    Manifest,
)

ZSTD_LEVEL = 3
MAX_MANIFEST_BYTES = 256 << 20

class ArchiveWriter:
    """Members appended in order to a zstd-compressed tar stream."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._zstd = zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=-1).stream_writer(fh, closefd=False)
        self._tar = tarfile.open(fileobj=self._zstd, mode="w|", format=tarfile.PAX_FORMAT)  # noqa: SIM115

    def add_bytes(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(data), 0o600, int(time.time())
        self._tar.addfile(info, _BytesReader(data))

    def add_file(self, entry: FileEntry, path: Path, advance: Advance | None = None) -> None:
        """Add ``path`` as ``entry``; the bytes must still hash to the entry's checksum (a file changed meanwhile
        would otherwise be archived under a checksum it does not have)."""
        info = tarfile.TarInfo(entry.path)
        info.size, info.mode, info.mtime = entry.size, 0o600, int(path.stat().st_mtime)
        with path.open("rb") as fh:
            reader = _HashingReader(fh, entry.size, advance)
            self._tar.addfile(info, reader)
        if reader.hexdigest() != entry.sha256:
            raise BackupError(f"{path} changed while it was being backed up; run the backup again",
                              code="backup_file_changed")

    def close(self) -> None:
        self._tar.close()
        self._zstd.flush(zstandard.FLUSH_FRAME)
        self._zstd.close()  # type: ignore[no-untyped-call]


@contextmanager
def write_archive(path: Path) -> Iterator[ArchiveWriter]:
    """Write to ``path``.partial (mode 600: the archive holds the database), renamed to ``path`` when complete."""
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            writer = ArchiveWriter(fh)
            yield writer
            writer.close()
            fh.flush()
            os.fsync(fh.fileno())
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        end = len(self._data) if n < 0 else self._pos + n
        chunk = bytes(self._data[self._pos:end])
        self._pos += len(chunk)
        return chunk


class _HashingReader:
    """Reads exactly ``size`` bytes (a file that shrank meanwhile is an error), hashing them."""

    def __init__(self, fh: IO[bytes], size: int, advance: Advance | None) -> None:
        self._fh, self._left, self._advance = fh, size, advance
        self._digest = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        want = self._left if n < 0 else min(n, self._left)
        chunk = self._fh.read(want)
        if len(chunk) < want:
            raise BackupError("a file shrank while it was being backed up; run the backup again",
                              code="backup_file_changed")
        self._left -= len(chunk)
        self._digest.update(chunk)
        if self._advance:
            self._advance(len(chunk))
        return chunk

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


@contextmanager
def read_archive(path: Path) -> Iterator[Iterator[tuple[tarfile.TarInfo, IO[bytes]]]]:
    """The archive's members in order, each with a stream of its bytes (valid until the next member)."""
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror}", code="backup_unreadable") from exc
    with fh:
        if fh.read(4) != b"\x28\xb5\x2f\xfd":
            raise CorruptBackup(f"{path} is not a vidrag backup (not a zstd-compressed archive)")
        fh.seek(0)
        reader = zstandard.ZstdDecompressor().stream_reader(fh, read_across_frames=True)
        try:
            tar = tarfile.open(fileobj=reader, mode="r|")  # noqa: SIM115 - closed with the file
            yield _members(tar)
        except (tarfile.TarError, zstandard.ZstdError, EOFError) as exc:
            raise CorruptBackup(f"{path} is damaged or truncated ({exc}); use another copy of the backup") from exc


def _members(tar: tarfile.TarFile) -> Iterator[tuple[tarfile.TarInfo, IO[bytes]]]:
    for info in tar:
        if not info.isfile():
            raise CorruptBackup(f"the archive holds {info.name!r}, which is not a regular file; it was not made by "
                                "vidrag backup")
        stream = tar.extractfile(info)
        assert stream is not None
        yield info, stream


def read_manifest(first: tuple[tarfile.TarInfo, IO[bytes]] | None) -> Manifest:
    if first is None or first[0].name != MANIFEST:
        raise CorruptBackup("the archive does not start with a vidrag manifest; it is not a vidrag backup")
    if first[0].size > MAX_MANIFEST_BYTES:
        raise CorruptBackup("the archive's manifest is implausibly large; it is not a vidrag backup")
    return Manifest.from_bytes(first[1].read())


def extract_verified(stream: IO[bytes], entry: FileEntry, dest: Path, advance: Advance | None = None) -> None:
    """Write a member to ``dest`` and check its size and checksum against the manifest."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    with dest.open("wb") as out:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
            if advance:
                advance(len(chunk))
    if size != entry.size or digest.hexdigest() != entry.sha256:
        raise CorruptBackup(f"{entry.path} in the archive does not match its checksum; the backup is damaged, use "
                            "another copy")


def move_into_place(source: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(source), str(dest))
