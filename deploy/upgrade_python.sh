#!/usr/bin/env bash
# upgrade_python.sh: install a Python new enough for vidrag (>= 3.11) beside the system one, never replacing it.
#
#   sudo deploy/upgrade_python.sh                 Python 3.12
#   sudo deploy/upgrade_python.sh --version 3.13
#   deploy/upgrade_python.sh --dry-run            print the steps only (any user)
#   deploy/upgrade_python.sh --print-python       print the interpreter's path it installs (deploy.sh uses it)
#
# Ubuntu: the deadsnakes PPA (python3.X, python3.X-venv, python3.X-dev) -> /usr/bin/python3.X.
# Debian and RHEL/Rocky/Alma/Fedora: pyenv builds it from source into /opt/pyenv (readable by every user, so a
# service user can run it; ~/.pyenv under /root would not be) -> /opt/pyenv/versions/3.X.Y/bin/python3.X.
# The system python3 stays as it is: the distribution's own tools depend on it.
set -euo pipefail

VERSION=3.12
OS_RELEASE=${VIDRAG_OS_RELEASE:-/etc/os-release}
PYENV_ROOT_DIR=/opt/pyenv
DRY_RUN=0 PRINT_PYTHON=0

usage() {
  sed -n '2,12s/^# \{0,1\}//p' "$0"
  cat <<EOF
Options: --version X.Y [$VERSION]  --pyenv-root DIR [$PYENV_ROOT_DIR]  --os-release FILE [/etc/os-release]
         --dry-run  --print-python  -h|--help
EOF
}

while [ $# -gt 0 ]; do
  case $1 in
    --version) VERSION=${2:?--version needs X.Y}; shift ;;
    --pyenv-root) PYENV_ROOT_DIR=${2:?--pyenv-root needs a directory}; shift ;;
    --os-release) OS_RELEASE=${2:?--os-release needs a file}; shift ;;
    --dry-run) DRY_RUN=1 ;;
    --print-python) PRINT_PYTHON=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "upgrade_python.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ "$VERSION" =~ ^3\.[0-9]+$ ]] || { echo "upgrade_python.sh: --version must look like 3.12" >&2; exit 2; }

show() { local out="+" arg; for arg in "$@"; do out+=" $(printf '%q' "$arg")"; done; printf '%s\n' "$out"; }
run() { show "$@"; [ "$DRY_RUN" -eq 1 ] || "$@"; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

os_field() { sed -n "s/^$1=//p" "$OS_RELEASE" | head -n 1 | tr -d "\"'" | tr '[:upper:]' '[:lower:]'; }
[ -r "$OS_RELEASE" ] || die "cannot read $OS_RELEASE; pass --os-release FILE"
OS_ID=$(os_field ID)
OS_LIKE=$(os_field ID_LIKE)
OS_MAJOR=$(os_field VERSION_ID)
OS_MAJOR=${OS_MAJOR%%.*}
case " $OS_ID $OS_LIKE " in
  *" ubuntu "*) METHOD=deadsnakes PKG=apt-get ;;
  *" debian "*) METHOD=pyenv PKG=apt-get ;;
  *" fedora "*|*" rhel "*|*" centos "*)
    METHOD=pyenv PKG=dnf
    if [ "$OS_ID" != fedora ] && [[ "$OS_MAJOR" =~ ^[0-9]+$ ]] && [ "$OS_MAJOR" -lt 8 ]; then PKG=yum; fi ;;
  *) die "unsupported distribution '$OS_ID': install Python >= 3.11 yourself and pass deploy.sh --python PATH" ;;
esac

installed_python() {  # where the interpreter is (or will be) once this script has run
  if [ "$METHOD" = deadsnakes ]; then echo "/usr/bin/python$VERSION"; return; fi
  local found
  found=$(find "$PYENV_ROOT_DIR/versions" -maxdepth 1 -name "$VERSION.*" -printf '%f\n' 2>/dev/null | sort -V | tail -n 1 || true)
  echo "$PYENV_ROOT_DIR/versions/${found:-$VERSION.x}/bin/python$VERSION"
}

if [ "$PRINT_PYTHON" -eq 1 ]; then installed_python; exit 0; fi
[ "$DRY_RUN" -eq 1 ] || [ "$(id -u)" -eq 0 ] || die "run it as root (sudo $0), or see the steps with --dry-run"

echo "==> Python $VERSION on $OS_ID ${OS_MAJOR:-} with $METHOD"
if [ "$METHOD" = deadsnakes ]; then
  run env DEBIAN_FRONTEND=noninteractive apt-get update -q
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends software-properties-common
  run add-apt-repository -y ppa:deadsnakes/ppa
  run env DEBIAN_FRONTEND=noninteractive apt-get update -q
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "python$VERSION" "python$VERSION-venv" "python$VERSION-dev"
else
  # the build dependencies pyenv's wiki lists; libsqlite3 gives the sqlite3 module FTS5, which vidrag needs
  if [ "$PKG" = apt-get ]; then
    run env DEBIAN_FRONTEND=noninteractive apt-get update -q
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends build-essential git curl \
      ca-certificates libssl-dev zlib1g-dev libbz2-dev libreadline-dev libsqlite3-dev libncursesw5-dev xz-utils \
      tk-dev libxml2-dev libxmlsec1-dev libffi-dev liblzma-dev
  else
    run "$PKG" install -y gcc make patch git curl tar zlib-devel bzip2 bzip2-devel readline-devel sqlite \
      sqlite-devel openssl-devel tk-devel libffi-devel xz-devel
  fi
  if [ -x "$PYENV_ROOT_DIR/bin/pyenv" ]; then
    run git -C "$PYENV_ROOT_DIR" pull --ff-only  # newer pyenv knows newer Python releases
  else
    run git clone --depth 1 https://github.com/pyenv/pyenv.git "$PYENV_ROOT_DIR"
  fi
  # "3.12" resolves to the newest 3.12.x pyenv knows; -s skips it when already built
  run env PYENV_ROOT="$PYENV_ROOT_DIR" "$PYENV_ROOT_DIR/bin/pyenv" install -s "$VERSION"
  run chmod -R a+rX "$PYENV_ROOT_DIR"
fi

PYTHON=$(installed_python)
if [ "$DRY_RUN" -eq 0 ]; then
  "$PYTHON" -c "import sqlite3, ssl, venv; sqlite3.connect(':memory:').execute('create virtual table t using fts5(x)')" ||
    die "$PYTHON was installed but lacks sqlite3 with FTS5, ssl or venv; check the build dependencies above"
fi
echo "==> done: $PYTHON"
echo "    next: sudo ./deploy.sh --python $PYTHON"
