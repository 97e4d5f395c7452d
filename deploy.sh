#!/usr/bin/env bash
# deploy.sh: install (or upgrade, or remove) vidrag on one machine as systemd services.
#
#   sudo ./deploy.sh                     install, or upgrade in place when already installed
#   ./deploy.sh --dry-run                print every step, change nothing (any user)
#   sudo ./deploy.sh --uninstall         remove units and the install dir; keep data, settings and the user
#   sudo ./deploy.sh --uninstall --purge remove those too
#
# What an install does: detect the distribution (apt on Debian/Ubuntu, dnf/yum on RHEL/Rocky/Alma/Fedora), install
# FFmpeg and build tools, find Python >= 3.11 (else offer deploy/upgrade_python.sh), create the system user, build a
# new release venv from this checkout with the locked dependencies, write the settings file (a generated
# VIDRAG_SECRET_KEY, mode 600), the systemd units vidrag-api.service and vidrag-worker.service and the admin wrapper
# <prefix>/bin/vidrag, migrate the database, open the port in ufw or firewalld, start and check /api/health.
# Re-running keeps the settings file and the data and switches to a freshly built release (the previous one is kept
# for a rollback). Run ./deploy.sh --help for the options; docs/deploy.md walks through it.
set -euo pipefail

SOURCE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
UNITS=(vidrag-api.service vidrag-worker.service)
DEFAULT_PORT=8000
KEEP_RELEASES=2

# --- options -------------------------------------------------------------------------------------------------------
PREFIX=/opt/vidrag
CONFIG_DIR=/etc/vidrag
UNIT_DIR=/etc/systemd/system
SERVICE_USER=vidrag
OPT_DATA_DIR="" OPT_HOST="" OPT_PORT="" OPT_REDIS_URL="" OPT_PYTHON=""
OS_RELEASE=${VIDRAG_OS_RELEASE:-/etc/os-release}
MIN_PYTHON=${VIDRAG_MIN_PYTHON:-3.11}
INSTALLER=auto
ACTION=install DRY_RUN=0 PURGE=0 SKIP_PACKAGES=0 FIREWALL=1 START=1 UPGRADE_PYTHON=0 CONSOLE=1

usage() {
  cat <<EOF
Usage: sudo ./deploy.sh [options]          (--dry-run needs no root)

Install or upgrade:
  --prefix DIR          install dir: releases, the venv link, bin/vidrag      [$PREFIX]
  --data-dir DIR        database, media, temporary files (VIDRAG_DATA_DIR)   [/var/lib/vidrag]
  --config-dir DIR      holds vidrag.env, the services' settings (mode 600)  [$CONFIG_DIR]
  --unit-dir DIR        where the systemd units go                           [$UNIT_DIR]
  --user NAME           system user the services run as                      [$SERVICE_USER]
  --host ADDR           listen address (HOST)                                [0.0.0.0]
  --port N              listen port (PORT)                                   [$DEFAULT_PORT]
  --redis-url URL       set VIDRAG_REDIS_URL: jobs go to vidrag-worker.service (Celery)
  --python PATH         the Python (>= $MIN_PYTHON) to build the venv with   [newest one found]
  --installer NAME      pip, uv, or auto (uv when on PATH: the same lock, much faster; uv reads its own
                        configuration, not pip.conf)                         [$INSTALLER]
  --upgrade-python      when Python is too old, run deploy/upgrade_python.sh without asking
  --skip-packages       do not install system packages (FFmpeg, build tools, Node.js)
  --no-firewall         do not open the port in ufw or firewalld
  --no-start            install everything but do not start the services
  --no-console          do not build the web console with npm (a console already built in the checkout is
                        installed; without one the API and CLI work, / has no console)
  --os-release FILE     read the distribution from FILE (also VIDRAG_OS_RELEASE)  [/etc/os-release]
Remove:
  --uninstall           stop and remove the units and the install dir; keep data, settings and the user
  --purge               with --uninstall: also remove the data dir, the settings file and the user
Always:
  --dry-run             print every step without doing it
  -h, --help            this text

Settings stay in <config-dir>/vidrag.env (see the README's configuration table); a re-run keeps it and changes only
what its options name (--host, --port, --data-dir, --redis-url).
EOF
}

while [ $# -gt 0 ]; do
  case $1 in
    --prefix) PREFIX=${2:?--prefix needs a directory}; shift ;;
    --data-dir) OPT_DATA_DIR=${2:?--data-dir needs a directory}; shift ;;
    --config-dir) CONFIG_DIR=${2:?--config-dir needs a directory}; shift ;;
    --unit-dir) UNIT_DIR=${2:?--unit-dir needs a directory}; shift ;;
    --user) SERVICE_USER=${2:?--user needs a name}; shift ;;
    --host) OPT_HOST=${2:?--host needs an address}; shift ;;
    --port) OPT_PORT=${2:?--port needs a number}; shift ;;
    --redis-url) OPT_REDIS_URL=${2:?--redis-url needs a URL}; shift ;;
    --python) OPT_PYTHON=${2:?--python needs a path}; shift ;;
    --installer) INSTALLER=${2:?--installer needs pip, uv or auto}; shift ;;
    --os-release) OS_RELEASE=${2:?--os-release needs a file}; shift ;;
    --upgrade-python) UPGRADE_PYTHON=1 ;;
    --skip-packages) SKIP_PACKAGES=1 ;;
    --no-firewall) FIREWALL=0 ;;
    --no-start) START=0 ;;
    --no-console) CONSOLE=0 ;;
    --uninstall) ACTION=uninstall ;;
    --purge) PURGE=1 ;;
    --dry-run) DRY_RUN=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "deploy.sh: unknown option '$1' (see ./deploy.sh --help)" >&2; exit 2 ;;
  esac
  shift
done

# --- output and the dry-run switch ---------------------------------------------------------------------------------
step() { printf '\n==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }
dry_note() { if [ "$DRY_RUN" -eq 1 ]; then printf ' (dry run: nothing is changed)'; fi; }

show() {  # print a command the way a shell would read it back
  local out="+" arg
  for arg in "$@"; do out+=" $(printf '%q' "$arg")"; done
  printf '%s\n' "$out"
}

show_text() { printf '+ %s\n' "$*"; }  # a step that is not one command

run() {  # the one gate between printing a step and doing it
  show "$@"
  [ "$DRY_RUN" -eq 1 ] || "$@"
}

try() {  # like run, but a failure is a warning: for optional steps
  show "$@"
  [ "$DRY_RUN" -eq 1 ] && return 0
  "$@" || { warn "failed (continuing): $*"; return 1; }
}

write_file() {  # write_file PATH MODE OWNER GROUP < content; atomic; the dry run shows the content instead
  local path=$1 mode=$2 owner=$3 group=$4 tmp
  if [ "$DRY_RUN" -eq 1 ]; then
    printf '+ write %s (mode %s, %s:%s):\n' "$path" "$mode" "$owner" "$group"
    sed 's/^/      | /'
    return 0
  fi
  printf '+ write %s (mode %s, %s:%s)\n' "$path" "$mode" "$owner" "$group"
  tmp=$(mktemp "$path.XXXXXX")  # created 600: a secret is never readable while it is written
  cat >"$tmp"
  chown "$owner:$group" "$tmp"
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$path"
}

remove_tree() {  # rm -rf with a guard against the obvious disasters
  local path=${1%/}
  case $path in
    ""|/|/bin|/boot|/dev|/etc|/home|/lib|/lib64|/opt|/proc|/root|/run|/sbin|/srv|/sys|/tmp|/usr|/usr/local|/var|/var/lib)
      die "refusing to remove '$1'" ;;
  esac
  [ -e "$path" ] || [ -L "$path" ] || return 0
  run rm -rf -- "$path"
}

# --- facts about this machine --------------------------------------------------------------------------------------
os_field() {  # os_field KEY: a value from os-release, unquoted
  sed -n "s/^$1=//p" "$OS_RELEASE" | head -n 1 | sed -e 's/^"//' -e 's/"$//' -e "s/^'//" -e "s/'$//"
}

detect_os() {
  [ -r "$OS_RELEASE" ] || die "cannot read $OS_RELEASE; pass --os-release FILE"
  OS_ID=$(os_field ID | tr '[:upper:]' '[:lower:]')
  OS_LIKE=$(os_field ID_LIKE | tr '[:upper:]' '[:lower:]')
  OS_VERSION=$(os_field VERSION_ID)
  OS_NAME=$(os_field PRETTY_NAME)
  local major=${OS_VERSION%%.*}
  case " $OS_ID $OS_LIKE " in
    *" debian "*|*" ubuntu "*) OS_FAMILY=debian PKG=apt-get ;;
    *" fedora "*|*" rhel "*|*" centos "*)
      OS_FAMILY=rhel PKG=dnf
      # dnf from RHEL/CentOS 8 and Amazon Linux 2023 on; yum before. Decided from os-release, not from what is
      # installed, so a dry run shows the same commands on any machine.
      if [ "$OS_ID" != fedora ] && [[ "$major" =~ ^[0-9]+$ ]] && [ "$major" -lt 8 ]; then PKG=yum; fi
      if [ "$OS_ID" = amzn ] && [ "$major" = 2 ]; then PKG=yum; fi
      ;;
    *) OS_FAMILY=unknown PKG="" ;;
  esac
  if [ "$DRY_RUN" -eq 0 ] && [ -n "$PKG" ] && ! command -v "$PKG" >/dev/null; then
    for other in dnf yum apt-get; do command -v "$other" >/dev/null && { PKG=$other; break; }; done
  fi
  note "${OS_NAME:-$OS_ID $OS_VERSION} (family: $OS_FAMILY${PKG:+, packages: $PKG})"
}

systemd_running() {  # sd_booted(); VIDRAG_SYSTEMD_RUNNING=0/1 lets a dry run show either branch
  case ${VIDRAG_SYSTEMD_RUNNING:-} in 1) return 0 ;; 0) return 1 ;; esac
  [ -d /run/systemd/system ]
}

# --- system packages -----------------------------------------------------------------------------------------------
install_packages() {
  step "System packages: FFmpeg, build tools, Python headers${WANT_NODE:+, Node.js (web console)}"
  if [ "$SKIP_PACKAGES" -eq 1 ]; then note "skipped (--skip-packages)"; return; fi
  case $OS_FAMILY in
    debian)
      run env DEBIAN_FRONTEND=noninteractive apt-get update -q
      run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        ffmpeg build-essential python3 python3-venv python3-dev ca-certificates curl openssl
      if [ -n "$WANT_NODE" ]; then
        try env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm || true
      fi
      ;;
    rhel)
      if [ "$OS_ID" != fedora ]; then
        # FFmpeg comes from EPEL (ffmpeg-free) on RHEL and its rebuilds; its dependencies need CRB/PowerTools
        try "$PKG" install -y epel-release || true
        try "$PKG" config-manager --set-enabled crb || try "$PKG" config-manager --set-enabled powertools || true
      fi
      run "$PKG" install -y gcc gcc-c++ make python3 python3-devel ca-certificates curl openssl
      # RHEL 8.8+/9 ship Python 3.11 beside their older python3
      [ "$OS_ID" = fedora ] || try "$PKG" install -y python3.11 python3.11-devel || true
      try "$PKG" install -y ffmpeg-free || try "$PKG" install -y ffmpeg ||
        warn "no FFmpeg package: vidrag falls back to the ffmpeg inside the imageio-ffmpeg wheel (no ffprobe)"
      if [ -n "$WANT_NODE" ]; then try "$PKG" install -y nodejs npm || true; fi
      ;;
    *) die "unsupported distribution '$OS_ID' (want Debian/Ubuntu or RHEL/Rocky/Alma/Fedora); install FFmpeg, a C compiler and Python >= $MIN_PYTHON yourself and run again with --skip-packages" ;;
  esac
}

# --- Python --------------------------------------------------------------------------------------------------------
python_new_enough() {  # python_new_enough PATH
  "$1" -c "import sys; sys.exit(0 if sys.version_info >= tuple(map(int, '$MIN_PYTHON'.split('.'))) else 1)" \
    >/dev/null 2>&1
}

find_python() {
  local candidate
  if [ -n "$OPT_PYTHON" ]; then
    python_new_enough "$OPT_PYTHON" && { PYTHON=$OPT_PYTHON; return 0; }
    warn "$OPT_PYTHON is not Python >= $MIN_PYTHON"
    return 1
  fi
  # System locations first, newest first: an interpreter under /root (pyenv) is unreadable for the service user.
  for candidate in /usr/bin/python3.1[3-9] /usr/bin/python3.12 /usr/bin/python3.11 /usr/bin/python3 \
                   /usr/local/bin/python3.1[1-9] /usr/local/bin/python3 /opt/pyenv/versions/3.1[1-9]*/bin/python3 \
                   "$(command -v python3 || true)"; do
    [ -n "$candidate" ] && [ -x "$candidate" ] && python_new_enough "$candidate" && { PYTHON=$candidate; return 0; }
  done
  return 1
}

python_version() { "$1" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null || echo "none"; }

check_python() {
  step "Python >= $MIN_PYTHON"
  if ! find_python; then
    local have upgrade=("$SOURCE_DIR/deploy/upgrade_python.sh" --os-release "$OS_RELEASE")
    have=$(python_version "$(command -v python3 || echo python3)")
    warn "no Python >= $MIN_PYTHON found (python3 is $have)"
    note "deploy/upgrade_python.sh installs one: deadsnakes on Ubuntu, pyenv in /opt/pyenv on Debian and RHEL-family"
    if [ "$DRY_RUN" -eq 1 ]; then
      note "it would be offered here; its steps:"
      "${upgrade[@]}" --dry-run | sed 's/^/    /'
      PYTHON=$("${upgrade[@]}" --print-python)
      note "then the venv is built with $PYTHON"
      return 0
    fi
    if [ "$UPGRADE_PYTHON" -eq 0 ]; then
      local answer=""
      if [ -t 0 ]; then read -r -p "Run ${upgrade[*]} now? [y/N] " answer || true; fi
      case $answer in
        y|Y|yes) ;;
        *) die "Python >= $MIN_PYTHON is required: run 'sudo ${upgrade[*]}' and then this script again (or pass --upgrade-python, or --python PATH)" ;;
      esac
    fi
    run "${upgrade[@]}"
    OPT_PYTHON=$("${upgrade[@]}" --print-python)
    find_python || die "deploy/upgrade_python.sh finished but $OPT_PYTHON is not Python >= $MIN_PYTHON"
  fi
  PYTHON=$("$PYTHON" -c 'import sys; print(sys.executable)')  # a pyenv shim becomes the real interpreter
  note "$PYTHON ($(python_version "$PYTHON"))"
  # venv + ensurepip (Debian splits them into pythonX.Y-venv) and SQLite with FTS5 (keyword search)
  if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    local pyver
    pyver=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    if [ "$OS_FAMILY" = debian ] && [ "$SKIP_PACKAGES" -eq 0 ]; then
      run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "python$pyver-venv"
    elif [ "$DRY_RUN" -eq 0 ]; then
      die "$PYTHON cannot create virtual environments; install its venv module (python$pyver-venv) and run again"
    fi
  fi
  if [ "$DRY_RUN" -eq 0 ] && ! "$PYTHON" -c "import sqlite3; sqlite3.connect(':memory:').execute('create virtual table t using fts5(x)')" >/dev/null 2>&1; then
    die "$PYTHON's sqlite3 lacks FTS5 (needed for keyword search); use another Python (--python PATH)"
  fi
}

# --- settings file -------------------------------------------------------------------------------------------------
env_get() {  # env_get KEY: the value in the settings file, empty when unset
  [ -r "$ENV_FILE" ] || return 0
  sed -n "s/^$1=//p" "$ENV_FILE" | tail -n 1 | sed -e 's/^"//' -e 's/"$//'
}

env_set() {  # env_set KEY VALUE: replace the key's line, or append it; the file keeps its mode
  local key=$1 value=$2
  [ "$(env_get "$key")" = "$value" ] && return 0
  show_text "set $key=$value in $ENV_FILE"
  [ "$DRY_RUN" -eq 1 ] && return 0
  local tmp
  tmp=$(mktemp "$ENV_FILE.XXXXXX")
  grep -v "^$key=" "$ENV_FILE" >"$tmp" || true
  printf '%s=%s\n' "$key" "$value" >>"$tmp"
  chown --reference="$ENV_FILE" "$tmp"
  chmod --reference="$ENV_FILE" "$tmp"
  mv -f "$tmp" "$ENV_FILE"
}

new_secret() {
  if command -v openssl >/dev/null; then openssl rand -base64 42
  else "${PYTHON:-python3}" -c 'import secrets; print(secrets.token_urlsafe(42))'
  fi
}

resolve_settings() {  # options, else the settings file of an earlier install, else defaults
  ENV_FILE=$CONFIG_DIR/vidrag.env
  DATA_DIR=${OPT_DATA_DIR:-$(env_get VIDRAG_DATA_DIR)}
  DATA_DIR=${DATA_DIR:-/var/lib/vidrag}
  HOST=${OPT_HOST:-$(env_get HOST)}
  HOST=${HOST:-0.0.0.0}
  PORT=${OPT_PORT:-$(env_get PORT)}
  PORT=${PORT:-$DEFAULT_PORT}
  REDIS_URL=${OPT_REDIS_URL:-$(env_get VIDRAG_REDIS_URL)}
  if ! [[ "$PORT" =~ ^[0-9]+$ ]] || [ "$PORT" -lt 1 ] || [ "$PORT" -gt 65535 ]; then
    die "--port must be 1-65535, not '$PORT'"
  fi
  case $DATA_DIR$PREFIX$CONFIG_DIR$UNIT_DIR in *[[:space:]]*) die "paths with spaces are not supported" ;; esac
  for dir in "$PREFIX" "$DATA_DIR" "$CONFIG_DIR" "$UNIT_DIR"; do
    case $dir in /*) ;; *) die "'$dir' is not an absolute path" ;; esac
  done
  VENV=$PREFIX/venv
}

write_settings() {
  step "Settings: $ENV_FILE (mode 600, root only; the units read it)"
  run install -d -m 755 -o root -g root "$CONFIG_DIR"
  if [ -f "$ENV_FILE" ]; then
    note "kept (an upgrade never rewrites it); options given now are applied:"
    [ -z "$OPT_HOST" ] || env_set HOST "$HOST"
    [ -z "$OPT_PORT" ] || env_set PORT "$PORT"
    [ -z "$OPT_DATA_DIR" ] || env_set VIDRAG_DATA_DIR "$DATA_DIR"
    [ -z "$OPT_REDIS_URL" ] || env_set VIDRAG_REDIS_URL "$REDIS_URL"
    local secret
    secret=$(env_get VIDRAG_SECRET_KEY)
    if [ "${#secret}" -lt 32 ]; then
      note "VIDRAG_SECRET_KEY is missing or too short: a new one is generated"
      if [ "$DRY_RUN" -eq 1 ]; then show_text "set VIDRAG_SECRET_KEY=<openssl rand -base64 42> in $ENV_FILE"
      else env_set VIDRAG_SECRET_KEY "$(new_secret)" >/dev/null; fi
    fi
    [ "$DRY_RUN" -eq 1 ] || chmod 600 "$ENV_FILE"
    return
  fi
  local secret="<generated: openssl rand -base64 42>" redis_line
  [ "$DRY_RUN" -eq 1 ] || secret=$(new_secret)
  if [ -n "$REDIS_URL" ]; then redis_line="VIDRAG_REDIS_URL=$REDIS_URL"
  else redis_line=$'# Scaled out: jobs go to vidrag-worker.service (Celery). Set it, then run deploy.sh again.\n# VIDRAG_REDIS_URL=redis://127.0.0.1:6379/0'
  fi
  write_file "$ENV_FILE" 600 root root <<EOF
# vidrag settings, read by vidrag-api.service and vidrag-worker.service (EnvironmentFile=).
# Every setting is in the README's configuration table. Apply changes: systemctl restart vidrag-api vidrag-worker
# deploy.sh keeps this file on upgrades; it changes only what its options name (--host, --port, --data-dir, --redis-url).
HOST=$HOST
PORT=$PORT
VIDRAG_ENV=production
VIDRAG_DATA_DIR=$DATA_DIR
# Generated at install (openssl rand -base64 42). Changing it invalidates what was signed with the old one.
VIDRAG_SECRET_KEY=$secret
$redis_line
# VIDRAG_DATABASE_URL=postgresql+psycopg://vidrag:PASSWORD@127.0.0.1/vidrag
# VIDRAG_API_KEYS=            comma-separated; when set every route but /api/health needs one
# VIDRAG_LLM_BASE_URL=        any OpenAI-compatible endpoint, with VIDRAG_LLM_MODEL (unset: extractive answers)
EOF
}

# --- user, release, wrapper ----------------------------------------------------------------------------------------
create_user() {
  step "Service user '$SERVICE_USER'"
  if id -u "$SERVICE_USER" >/dev/null 2>&1; then
    note "exists (uid $(id -u "$SERVICE_USER"), group $(id -gn "$SERVICE_USER"))"
  else
    local nologin
    nologin=$(command -v nologin || echo /usr/sbin/nologin)
    run useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home --shell "$nologin" \
      --comment "vidrag service" "$SERVICE_USER"
  fi
  SERVICE_GROUP=$(id -gn "$SERVICE_USER" 2>/dev/null || echo "$SERVICE_USER")
  run install -d -m 750 -o "$SERVICE_USER" -g "$SERVICE_GROUP" "$DATA_DIR"
  if [ "$DRY_RUN" -eq 0 ] && ! setpriv --reuid="$SERVICE_USER" --regid="$SERVICE_GROUP" --init-groups \
       "$PYTHON" -c 'import sys' >/dev/null 2>&1; then
    die "user '$SERVICE_USER' cannot run $PYTHON (is it under /root, e.g. pyenv?); pass --python with a system-wide one"
  fi
}

pick_installer() {
  UV=""
  case $INSTALLER in
    pip) ;;
    uv|auto)
      if command -v uv >/dev/null; then UV=$(command -v uv)
      elif [ "$INSTALLER" = uv ]; then die "--installer uv: no uv on PATH (pip install uv, or use --installer pip)"
      fi ;;
    *) die "--installer must be pip, uv or auto" ;;
  esac
}

stage_source() {  # a copy of the checkout to build from: the checkout itself stays untouched
  STAGE="${TMPDIR:-/tmp}/vidrag-build.XXXXXX"
  show_text "copy $SOURCE_DIR to $STAGE (without .git, .venv, data, node_modules, build output)"
  [ "$DRY_RUN" -eq 1 ] && return 0
  STAGE=$(mktemp -d "$STAGE")
  trap 'rm -rf "$STAGE"' EXIT
  tar -C "$SOURCE_DIR" --exclude=./.git --exclude=./.venv --exclude=./data --exclude=./build --exclude=./test-artifacts \
      --exclude=./bench/results --exclude=node_modules --exclude=__pycache__ --exclude='*.egg-info' \
      --exclude=.mypy_cache --exclude=.ruff_cache --exclude=.pytest_cache -cf - . | tar -C "$STAGE" -xf -
}

node_new_enough() {  # the console's package.json says which Node it needs ("engines": {"node": ">=X.Y"})
  node -e '
    const want = (require(process.argv[1]).engines || {}).node || "";
    const m = want.match(/>=\s*(\d+)(?:\.(\d+))?/);
    const [a, b] = process.versions.node.split(".").map(Number);
    process.exit(!m || a > +m[1] || (a === +m[1] && b >= +(m[2] || 0)) ? 0 : 1);
  ' "$SOURCE_DIR/web/package.json" 2>/dev/null
}

build_console() {
  [ -f "$SOURCE_DIR/web/package.json" ] || return 0
  step "Web console (npm ci && npm run build in web/ -> src/vidrag/console)"
  if [ "$CONSOLE" -eq 0 ]; then
    note "not built (--no-console)$([ -f "$SOURCE_DIR/src/vidrag/console/index.html" ] && printf '; the one built in the checkout is installed')"
    return 0
  fi
  if ! command -v npm >/dev/null || ! node_new_enough; then
    warn "Node.js $(node --version 2>/dev/null || echo missing) cannot build the web console (web/package.json: engines); the API and CLI work without it"
    return 0
  fi
  show_text "cd $STAGE/web"
  if [ "$DRY_RUN" -eq 1 ]; then
    show npm ci --no-audit --no-fund
    show npm run build
    return 0
  fi
  (cd "$STAGE/web" && run npm ci --no-audit --no-fund --loglevel=error && run npm run build) ||
    warn "the web console did not build; the API and CLI work without it"
}

install_release() {  # build the new release beside the running one; nothing changes for it until switch_release
  RELEASE=$(date -u +%Y%m%d-%H%M%S)
  local rel=$PREFIX/releases/$RELEASE pip_flags=(--disable-pip-version-check --no-input -q)
  NEW_VENV=$rel/venv
  step "Release $RELEASE: a venv built from this checkout with the locked dependencies"
  run install -d -m 755 -o root -g root "$PREFIX" "$PREFIX/releases" "$PREFIX/bin" "$rel"
  [ "$DRY_RUN" -eq 1 ] || touch "$PREFIX/.vidrag-install"  # marks the directory as ours for --uninstall
  stage_source
  build_console
  if [ -n "$UV" ]; then
    # uv installs the same lock (hard links from its cache when on the same file system: seconds, not minutes)
    run "$PYTHON" -m venv --without-pip "$NEW_VENV"
    run "$UV" pip install -q --python "$NEW_VENV/bin/python" -r "$STAGE/requirements.lock"
    run "$UV" pip install -q --python "$NEW_VENV/bin/python" --no-deps "$STAGE"
  else
    run "$PYTHON" -m venv "$NEW_VENV"
    run "$NEW_VENV/bin/python" -m pip install "${pip_flags[@]}" -r "$STAGE/requirements.lock"
    run "$NEW_VENV/bin/python" -m pip install "${pip_flags[@]}" --no-deps "$STAGE"
  fi
  if [ "$DRY_RUN" -eq 0 ]; then
    { git -C "$SOURCE_DIR" describe --always --dirty 2>/dev/null || echo unknown; } >"$rel/SOURCE_VERSION"
  fi
}

switch_release() {  # atomically: the units run $PREFIX/venv, a link to the current release
  step "Switch to release $RELEASE"
  run ln -sfn "releases/$RELEASE/venv" "$PREFIX/venv.new"
  run mv -Tf "$PREFIX/venv.new" "$VENV"
  prune_releases
}

prune_releases() {
  [ -d "$PREFIX/releases" ] || return 0
  local releases old
  mapfile -t releases < <(find "$PREFIX/releases" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort)
  [ "${#releases[@]}" -gt "$KEEP_RELEASES" ] || return 0
  for old in "${releases[@]:0:${#releases[@]}-KEEP_RELEASES}"; do remove_tree "$PREFIX/releases/$old"; done
}

write_wrapper() {
  step "Admin wrapper: $PREFIX/bin/vidrag (the CLI as '$SERVICE_USER' with the service's settings)"
  write_file "$PREFIX/bin/vidrag" 755 root root <<EOF
#!/usr/bin/env bash
# Written by deploy.sh. The vidrag CLI as user '$SERVICE_USER' with the settings of the installed service:
#   sudo $PREFIX/bin/vidrag tasks | storage | migrate | ingest ...
#   sudo $PREFIX/bin/vidrag serve      the API in the foreground, where systemd does not run
#   sudo VIDRAG_VENV=$PREFIX/releases/<release>/venv $PREFIX/bin/vidrag ...   another release
set -euo pipefail
env_file='$ENV_FILE'
venv=\${VIDRAG_VENV:-'$VENV'}
if [ "\$(id -u)" -ne 0 ]; then
  echo "run it as root (sudo \$0 ...): \$env_file is readable by root only" >&2
  exit 1
fi
while IFS= read -r line || [ -n "\$line" ]; do  # the EnvironmentFile= syntax deploy.sh writes: KEY=VALUE
  case \$line in '#'*|';'*|'') continue ;; *=*) ;; *) continue ;; esac
  value=\${line#*=}
  value=\${value#\\"}
  export "\${line%%=*}=\${value%\\"}"
done <"\$env_file"
export HOME='$DATA_DIR'
umask 027  # as the units' UMask=
cd '$DATA_DIR'
exec setpriv --reuid='$SERVICE_USER' --regid='$SERVICE_GROUP' --init-groups --no-new-privs -- "\$venv/bin/vidrag" "\$@"
EOF
}

# --- systemd units -------------------------------------------------------------------------------------------------
under() {  # under PATH DIR...: PATH is DIR or inside one of them
  local path=$1 dir; shift
  for dir in "$@"; do case $path/ in "$dir"/*) return 0 ;; esac; done
  return 1
}

hardening() {  # the [Service] sandbox both units share; relaxed only where the chosen paths need it
  local private_tmp=yes protect_home=yes caps="" path
  for path in "$PREFIX" "$DATA_DIR" "$CONFIG_DIR"; do
    under "$path" /tmp /var/tmp && private_tmp=no
    under "$path" /home /root /run/user && protect_home=read-only
  done
  [ "$PORT" -lt 1024 ] && caps=CAP_NET_BIND_SERVICE
  cat <<EOF
# Sandbox (systemd-analyze security ${1}). GPU users: drop PrivateDevices/DevicePolicy.
# MemoryDenyWriteExecute is off on purpose: onnxruntime and CTranslate2 may generate code at run time.
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths=$DATA_DIR
ProtectHome=$protect_home
PrivateTmp=$private_tmp
PrivateDevices=yes
DevicePolicy=closed
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
RemoveIPC=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged
SystemCallErrorNumber=EPERM
CapabilityBoundingSet=$caps
AmbientCapabilities=$caps
UMask=0027
EOF
}

write_units() {
  step "systemd units in $UNIT_DIR"
  run install -d -m 755 "$UNIT_DIR"
  write_file "$UNIT_DIR/vidrag-api.service" 644 root root <<EOF
# Written by deploy.sh; re-running it rewrites this file. Local changes: systemctl edit vidrag-api
[Unit]
Description=vidrag API (video download API and video knowledge base)
After=network-online.target
Wants=network-online.target

[Service]
Type=exec
User=$SERVICE_USER
Group=$SERVICE_GROUP
WorkingDirectory=$DATA_DIR
Environment=HOME=$DATA_DIR
EnvironmentFile=$ENV_FILE
ExecStart=$VENV/bin/vidrag serve
Restart=on-failure
RestartSec=5
TimeoutStopSec=30
KillMode=mixed
StandardOutput=journal
StandardError=journal
SyslogIdentifier=vidrag-api
LimitNOFILE=65536
$(hardening vidrag-api.service)

[Install]
WantedBy=multi-user.target
EOF
  write_file "$UNIT_DIR/vidrag-worker.service" 644 root root <<EOF
# Written by deploy.sh; re-running it rewrites this file. Local changes: systemctl edit vidrag-worker
# Scaled out only: without VIDRAG_REDIS_URL the API runs jobs itself, and ExecCondition skips this unit cleanly.
[Unit]
Description=vidrag worker (Celery: downloads, transcription, indexing)
After=network-online.target
Wants=network-online.target

[Service]
Type=exec
User=$SERVICE_USER
Group=$SERVICE_GROUP
WorkingDirectory=$DATA_DIR
Environment=HOME=$DATA_DIR
EnvironmentFile=$ENV_FILE
ExecCondition=/bin/sh -c 'test -n "\$\${VIDRAG_REDIS_URL}"'
ExecStart=$VENV/bin/vidrag worker
Restart=on-failure
RestartSec=5
# a warm shutdown lets running jobs finish; unfinished ones are taken over after their lease expires
TimeoutStopSec=120
KillMode=mixed
StandardOutput=journal
StandardError=journal
SyslogIdentifier=vidrag-worker
LimitNOFILE=65536
$(hardening vidrag-worker.service)

[Install]
WantedBy=multi-user.target
EOF
}

# --- firewall ------------------------------------------------------------------------------------------------------
firewall() {  # firewall open|close
  local verb=$1
  [ "$FIREWALL" -eq 1 ] || { note "firewall: skipped (--no-firewall)"; return 0; }
  case $HOST in 127.*|::1|localhost) note "firewall: listening on $HOST only, nothing to open"; return 0 ;; esac
  if command -v ufw >/dev/null && ufw status 2>/dev/null | grep -q '^Status: active'; then
    if [ "$verb" = open ]; then try ufw allow "$PORT/tcp" comment vidrag || true
    else try ufw delete allow "$PORT/tcp" || true; fi
  elif command -v firewall-cmd >/dev/null && firewall-cmd --state >/dev/null 2>&1; then
    if [ "$verb" = open ]; then try firewall-cmd --permanent --add-port="$PORT/tcp" || true
    else try firewall-cmd --permanent --remove-port="$PORT/tcp" || true; fi
    try firewall-cmd --reload || true
  else
    note "firewall: no active ufw or firewalld; if clients on other machines cannot connect, open TCP port $PORT"
  fi
}

# --- start and check -----------------------------------------------------------------------------------------------
health_url() {
  local host=$HOST
  case $host in 0.0.0.0|'') host=127.0.0.1 ;; ::) host='[::1]' ;; *:*) host="[$host]" ;; esac
  printf 'http://%s:%s/api/health' "$host" "$PORT"
}

wait_healthy() {
  local url
  url=$(health_url)
  show_text "wait for $url (60 s at most)"
  [ "$DRY_RUN" -eq 1 ] && return 0
  "$VENV/bin/python" - "$url" <<'EOF'
import json, sys, time, urllib.request
deadline = time.monotonic() + 60
while True:
    try:
        with urllib.request.urlopen(sys.argv[1], timeout=5) as response:
            body = json.load(response)
        print(f"    healthy: {body.get('status')}")
        break
    except Exception as exc:  # noqa: BLE001 - any failure means: not up yet
        if time.monotonic() > deadline:
            sys.exit(f"no healthy answer from {sys.argv[1]}: {exc}")
        time.sleep(1)
EOF
}

print_start_by_hand() {
  cat <<EOF

systemd is not running here (a container?). Everything is installed; to start vidrag:
  with systemd:  systemctl daemon-reload && systemctl enable --now vidrag-api.service$( [ -n "$REDIS_URL" ] && printf ' vidrag-worker.service' )
  by hand:       sudo $PREFIX/bin/vidrag serve$( [ -n "$REDIS_URL" ] && printf '    (and: sudo %s/bin/vidrag worker)' "$PREFIX" )
                 (same user, settings and data as the unit; health: $(health_url))
EOF
}

start_services() {
  step "Start"
  if [ "$START" -eq 0 ]; then note "skipped (--no-start)"; print_start_by_hand; return 0; fi
  if ! systemd_running; then print_start_by_hand; return 0; fi
  run systemctl daemon-reload
  run systemctl enable vidrag-api.service
  run systemctl restart vidrag-api.service
  if [ -n "$REDIS_URL" ]; then
    run systemctl enable vidrag-worker.service
    run systemctl restart vidrag-worker.service
  else
    note "VIDRAG_REDIS_URL is unset: the API runs jobs itself; vidrag-worker.service stays disabled"
    show systemctl disable --now vidrag-worker.service
    [ "$DRY_RUN" -eq 1 ] || systemctl disable --now vidrag-worker.service >/dev/null 2>&1 || true
  fi
  if ! wait_healthy; then
    try journalctl -u vidrag-api.service -n 50 --no-pager || true
    die "vidrag-api.service is not healthy; see: journalctl -u vidrag-api.service"
  fi
}

# --- the two actions -----------------------------------------------------------------------------------------------
do_install() {
  WANT_NODE=""  # Node.js from the distribution, only when the console is wanted and no new enough one is here
  if [ "$CONSOLE" -eq 1 ] && [ -f "$SOURCE_DIR/web/package.json" ] && ! { command -v npm >/dev/null && node_new_enough; }; then
    WANT_NODE=1
  fi
  local what=installed
  [ -e "$VENV" ] && what=upgraded
  step "vidrag: $([ "$what" = upgraded ] && echo "upgrade the install in" || echo "install into") $PREFIX$(dry_note)"
  detect_os
  install_packages
  check_python
  pick_installer
  create_user
  write_settings
  install_release
  write_wrapper
  # as the service user with the new release, before the switch: a release that cannot start, or a user that
  # cannot read it, stops here while the running release goes on
  step "Database schema (the new release, as '$SERVICE_USER')"
  run env VIDRAG_VENV="$NEW_VENV" "$PREFIX/bin/vidrag" migrate
  switch_release
  write_units
  step "Firewall"
  firewall open
  start_services
  step "Done: vidrag $what"
  note "settings: $ENV_FILE    data: $DATA_DIR    code: $VENV -> releases/${RELEASE}"
  note "logs: journalctl -u vidrag-api.service -f    CLI: sudo $PREFIX/bin/vidrag --help"
}

do_uninstall() {
  step "vidrag: remove from $PREFIX$([ "$PURGE" -eq 1 ] && printf ', with data, settings and user')$(dry_note)"
  if systemd_running; then
    local unit
    for unit in "${UNITS[@]}"; do try systemctl disable --now "$unit" || true; done
  fi
  local unit
  for unit in "${UNITS[@]}"; do
    if [ -e "$UNIT_DIR/$unit" ]; then run rm -f "$UNIT_DIR/$unit"; fi
  done
  if systemd_running; then try systemctl daemon-reload || true; fi
  firewall close
  if [ -e "$PREFIX" ]; then
    [ -e "$PREFIX/.vidrag-install" ] || [ "$DRY_RUN" -eq 1 ] ||
      die "$PREFIX was not made by deploy.sh (no .vidrag-install marker); remove it by hand"
    remove_tree "$PREFIX"
  fi
  if [ "$PURGE" -eq 1 ]; then
    remove_tree "$DATA_DIR"
    if [ -e "$ENV_FILE" ]; then run rm -f "$ENV_FILE"; fi
    if [ -d "$CONFIG_DIR" ]; then run rmdir --ignore-fail-on-non-empty "$CONFIG_DIR"; fi
    if id -u "$SERVICE_USER" >/dev/null 2>&1; then
      if [ "$(id -u "$SERVICE_USER")" -ge 1000 ]; then note "user '$SERVICE_USER' is not a system user: left alone"
      else run userdel "$SERVICE_USER"; fi
    fi
    step "Done: vidrag removed with its data"
  else
    step "Done: vidrag removed"
    note "kept: data $DATA_DIR, settings $ENV_FILE, user '$SERVICE_USER' (--uninstall --purge removes them)"
  fi
}

if [ "$DRY_RUN" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
  die "deploy.sh changes the system (a user, $PREFIX, systemd units): run it as root (sudo $0 ...), or see every step with --dry-run"
fi
[ "$PURGE" -eq 0 ] || [ "$ACTION" = uninstall ] || die "--purge goes with --uninstall"
case $SERVICE_USER in
  root|0) die "--user root would run the service with every privilege; use a dedicated system user" ;;
  ''|-*|*[!a-z0-9_.-]*) die "--user '$SERVICE_USER' is not a valid user name (lower-case letters, digits, _ . -)" ;;
esac
resolve_settings
case $ACTION in
  install) do_install ;;
  uninstall) do_uninstall ;;
esac
