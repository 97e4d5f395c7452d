#!/usr/bin/env python3
"""Start vidrag: check Python, dependencies and FFmpeg, create the data directories, run uvicorn.

    python start.py          # production mode on HOST:PORT (default 0.0.0.0:8000)
    python start.py --dev    # development mode with auto-reload

On a fresh machine it installs what it needs first: a virtual environment in .venv with the locked
dependencies (requirements.lock), then restarts itself inside it. With Node.js 20.19+ it builds the web console
(web/) when the build is missing or older than its sources; without Node.js the API runs and `/` says what to do.
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


WEB = ROOT / "web"
CONSOLE_INDEX = ROOT / "src" / "vidrag" / "console" / "index.html"
MIN_NODE = (20, 19)


def _newest(paths: list[Path]) -> float:
    return max((f.stat().st_mtime for p in paths if p.exists() for f in ([p] if p.is_file() else p.rglob("*"))),
               default=0.0)


def _node_ok() -> bool:
    try:
        out = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    major, minor = (int(x) for x in out.strip().lstrip("v").split(".")[:2])
    return (major, minor) >= MIN_NODE


def ensure_console() -> None:
    """Build the web console (web/ → src/vidrag/console) when it is missing or older than its sources.

    Without Node.js the service still starts: the API works and `/` says how to build the console."""
    if not (WEB / "package.json").is_file():  # an installed package: the console came built inside it
        return
    sources = [WEB / "src", WEB / "index.html", WEB / "package-lock.json", WEB / "vite.config.ts"]
    if CONSOLE_INDEX.is_file() and CONSOLE_INDEX.stat().st_mtime >= _newest(sources):
        say(True, "web console built")
        return
    if not _node_ok():
        say(False, f"web console not built: it needs Node.js {'.'.join(map(str, MIN_NODE))}+ and npm "
                   "(the API works without it; install Node.js and start again)")
        return
    print("… building the web console (npm ci, vite build)", flush=True)
    try:
        installed = WEB / "node_modules" / ".package-lock.json"
        if not installed.is_file() or installed.stat().st_mtime < (WEB / "package-lock.json").stat().st_mtime:
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=WEB, check=True)
        subprocess.run(["npx", "vite", "build", "--logLevel", "warn"], cwd=WEB, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        say(False, f"web console build failed ({exc}); the API still starts")
        return
    say(True, "web console built")


def main() -> None:
    print("vidrag start-up checks\n" + "=" * 40, flush=True)
    check_python()
    missing = missing_packages()
    if missing:
        say(False, f"missing packages: {', '.join(missing)}")
        install_and_reexec()
    say(True, "dependencies installed")
    ensure_console()
    from vidrag.cli import serve_checked

    serve_checked(dev="--dev" in sys.argv[1:])


if __name__ == "__main__":
    main()
