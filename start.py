#!/usr/bin/env python3
"""Start vidrag: check Python, dependencies and FFmpeg, create the data directories, run uvicorn.

    python start.py          # production mode on HOST:PORT (default 0.0.0.0:8000)
    python start.py --dev    # development mode with auto-reload

On a fresh machine it installs what it needs first: a virtual environment in .venv with the locked
dependencies (requirements.lock), then restarts itself inside it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
MIN_PYTHON = (3, 11)
REQUIRED = {"fastapi": "fastapi", "uvicorn": "uvicorn", "yt_dlp": "yt-dlp", "sqlalchemy": "SQLAlchemy",
            "alembic": "alembic", "pydantic_settings": "pydantic-settings", "sse_starlette": "sse-starlette",
            "multipart": "python-multipart", "filetype": "filetype", "vidrag": "vidrag (this project)"}


def say(ok: bool, text: str) -> None:
    print(f"{'✅' if ok else '❌'} {text}", flush=True)


def check_python() -> None:
    if sys.version_info < MIN_PYTHON:
        say(False, f"Python {'.'.join(map(str, MIN_PYTHON))}+ is required, this is {sys.version.split()[0]}; "
                   "see deploy/upgrade_python.sh or install a newer python3")
        sys.exit(1)
    say(True, f"Python {sys.version.split()[0]}")


def missing_packages() -> list[str]:
    import importlib.util

    return [name for module, name in REQUIRED.items() if importlib.util.find_spec(module) is None]


def install_and_reexec() -> None:
    """Install the locked dependencies into .venv (created if needed), then run this script there."""
    in_venv = sys.prefix != sys.base_prefix
    python = Path(sys.executable) if in_venv else VENV / "bin" / "python"
    if not in_venv and not python.exists():
        print(f"… creating a virtual environment in {VENV}", flush=True)
        venv.create(VENV, with_pip=True)
    print("… installing the locked dependencies (requirements.lock)", flush=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", str(ROOT / "requirements.lock")], check=True)
    subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True)
    # a fresh interpreter (the venv's, or this one again) sees the packages just installed
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])  # noqa: S606


def main() -> None:
    print("vidrag start-up checks\n" + "=" * 40, flush=True)
    check_python()
    missing = missing_packages()
    if missing:
        say(False, f"missing packages: {', '.join(missing)}")
        install_and_reexec()
    say(True, "dependencies installed")
    from vidrag.cli import serve_checked

    serve_checked(dev="--dev" in sys.argv[1:])


if __name__ == "__main__":
    main()
