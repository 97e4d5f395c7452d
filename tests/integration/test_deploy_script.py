"""deploy.sh for real: shellcheck, dry runs on Debian- and RHEL-like systems, and a real install as root.

The real install goes into a temporary root (install dir, data dir, settings, units) with a throwaway system user;
system packages are skipped (apt is slow; the dry runs cover that step). There is no systemd here, so the service is
started the way the written unit says (its User, WorkingDirectory, EnvironmentFile and ExecStart) and must answer
/api/health; the units are checked with `systemd-analyze verify`. Then a re-run upgrades in place and --uninstall
removes it. The venv is built with uv (the same lock; seconds instead of pip's ~95 s here), so the module stays near a
minute; deploy.sh's pip commands are asserted in the dry runs.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.backends import services_required
from tests.support.service import REPO, free_port, stop_group

DEPLOY = REPO / "deploy.sh"
UPGRADE_PYTHON = REPO / "deploy" / "upgrade_python.sh"
UNITS = ("vidrag-api.service", "vidrag-worker.service")
SYSTEM_FILES = (Path("/etc/passwd"), Path("/etc/group"), Path("/etc/shadow"))

OS_RELEASES = {
    "debian": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n',
    "ubuntu": 'PRETTY_NAME="Ubuntu 22.04.4 LTS"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="22.04"\n',
    "rocky": 'PRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\n',
    "fedora": 'PRETTY_NAME="Fedora Linux 40 (Server Edition)"\nID=fedora\nVERSION_ID=40\n',
    "centos7": 'PRETTY_NAME="CentOS Linux 7 (Core)"\nID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="7"\n',
}
PACKAGE_MANAGER = {"debian": "apt-get", "ubuntu": "apt-get", "rocky": "dnf", "fedora": "dnf", "centos7": "yum"}


def need(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        message = f"{tool} is not installed (Debian package {package}; ./scripts/test installs it)"
        if services_required():
            pytest.fail(message)
        pytest.skip(message)
    return path


def need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("a real deploy.sh run needs root (it creates a system user)")


def deploy(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(DEPLOY), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, check=False)


def fingerprint(paths: tuple[Path, ...]) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths if p.exists()}


def build_dirs() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("vidrag-build.*")}


def world_readable_tmpdir(prefix: str) -> Path:
    """The service user must reach the install: pytest's own tmp dirs sit under a 700 directory."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    return root


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
    return values


def unit_service_section(path: Path) -> dict[str, list[str]]:
    section, values = "", dict[str, list[str]]()
    for line in path.read_text().splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "Service" and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values.setdefault(key, []).append(value)
    return values


# --- shellcheck ------------------------------------------------------------------------------------------------------
def shell_scripts() -> list[Path]:
    """Every shell script in the repository: *.sh, and files whose first line names sh or bash."""
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, text=True, check=True).stdout.splitlines()
    found = []
    for name in listed:
        path = REPO / name
        if not path.is_file() or "node_modules" in path.parts:
            continue
        with path.open("rb") as handle:
            first = handle.readline(200)
        if name.endswith(".sh") or re.match(rb"#!\s*/(usr/)?bin/(env\s+)?(ba)?sh\b", first):
            found.append(path)
    return sorted(found)


def test_every_shell_script_is_shellcheck_clean() -> None:
    shellcheck = need("shellcheck", "shellcheck")
    scripts = shell_scripts()
    names = {str(p.relative_to(REPO)) for p in scripts}
    assert {"deploy.sh", "deploy/upgrade_python.sh", "scripts/test", ".ci/run"} <= names
    result = subprocess.run([shellcheck, "--severity=style", *map(str, scripts)], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, f"shellcheck on {sorted(names)}:\n{result.stdout}{result.stderr}"


# --- dry runs --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("distro", list(OS_RELEASES))
def test_dry_run_prints_every_step_and_changes_nothing(distro: str, tmp_path: Path) -> None:
    os_release = tmp_path / "os-release"
    os_release.write_text(OS_RELEASES[distro])
    root = tmp_path / "root"
    root.mkdir()
    paths = {"prefix": root / "opt", "data": root / "data", "config": root / "etc", "units": root / "units"}
    before, builds = fingerprint(SYSTEM_FILES), build_dirs()

    result = deploy("--dry-run", "--os-release", str(os_release), "--installer", "pip",
                    "--prefix", str(paths["prefix"]), "--data-dir", str(paths["data"]),
                    "--config-dir", str(paths["config"]), "--unit-dir", str(paths["units"]),
                    "--user", "vidrag-dry", "--port", "8123", env={"VIDRAG_SYSTEMD_RUNNING": "1"})
    out = result.stdout
    assert result.returncode == 0, result.stdout + result.stderr

    # the distribution's package manager installs FFmpeg and the build tools; the other family's does not appear
    pm = PACKAGE_MANAGER[distro]
    if pm == "apt-get":
        assert re.search(r"^\+ env DEBIAN_FRONTEND=noninteractive apt-get install .*\bffmpeg\b.*\bbuild-essential\b",
                         out, re.M)
        assert "python3-venv" in out
        assert not re.search(r"^\+ (dnf|yum) ", out, re.M)
    else:
        assert re.search(rf"^\+ {pm} install -y gcc gcc-c\+\+ make python3 python3-devel", out, re.M)
        assert re.search(rf"^\+ {pm} install -y ffmpeg-free$", out, re.M)
        assert ("epel-release" in out) == (distro != "fedora")  # Fedora has ffmpeg-free without EPEL
        assert "apt-get" not in out
    # user, settings, venv from the locks, units, migrate, start, health
    assert re.search(r"^\+ useradd --system --user-group --home-dir \S+/data .* vidrag-dry$", out, re.M)
    assert f"+ write {paths['config']}/vidrag.env (mode 600, root:root)" in out
    assert "VIDRAG_SECRET_KEY=<generated: openssl rand -base64 42>" in out
    assert re.search(r"^\+ \S+/venv/bin/python -m pip install .* -r \S+/requirements\.lock$", out, re.M)
    assert re.search(r"^\+ \S+/venv/bin/python -m pip install .* --no-deps \S+$", out, re.M)
    for unit in UNITS:
        assert f"+ write {paths['units']}/{unit} (mode 644, root:root)" in out
    assert f"      | ExecStart={paths['prefix']}/venv/bin/vidrag serve" in out
    assert f"      | ExecStart={paths['prefix']}/venv/bin/vidrag worker" in out
    for line in ("NoNewPrivileges=yes", "ProtectSystem=strict", f"ReadWritePaths={paths['data']}", "PrivateTmp=",
                 "Restart=on-failure", "StandardOutput=journal", f"EnvironmentFile={paths['config']}/vidrag.env"):
        assert f"      | {line}" in out, line
    assert re.search(r"^\+ env VIDRAG_VENV=\S+ \S+/bin/vidrag migrate$", out, re.M)
    assert "+ systemctl enable vidrag-api.service" in out
    assert "+ systemctl restart vidrag-api.service" in out
    assert "+ wait for http://127.0.0.1:8123/api/health" in out
    assert "+ systemctl enable vidrag-worker.service" not in out  # no VIDRAG_REDIS_URL: the API runs jobs itself

    assert list(root.iterdir()) == [], "a dry run wrote files"
    assert fingerprint(SYSTEM_FILES) == before, "a dry run changed users or groups"
    assert build_dirs() == builds, "a dry run left a build directory"


def test_dry_run_with_default_paths_names_the_system_locations(tmp_path: Path) -> None:
    os_release = tmp_path / "os-release"
    os_release.write_text(OS_RELEASES["debian"])
    defaults = [Path("/opt/vidrag"), Path("/var/lib/vidrag"), Path("/etc/vidrag"),
                Path("/etc/systemd/system/vidrag-api.service")]
    existed = {p for p in defaults if p.exists()}
    result = deploy("--dry-run", "--os-release", str(os_release), "--redis-url", "redis://127.0.0.1:6379/0",
                    env={"VIDRAG_SYSTEMD_RUNNING": "1"})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "+ write /etc/systemd/system/vidrag-api.service" in out
    assert "+ write /etc/vidrag/vidrag.env (mode 600, root:root)" in out
    assert "      | ReadWritePaths=/var/lib/vidrag" in out
    assert "      | PrivateTmp=yes" in out
    assert "      | ProtectHome=yes" in out
    assert "      | VIDRAG_REDIS_URL=redis://127.0.0.1:6379/0" in out
    assert "+ systemctl enable vidrag-worker.service" in out  # with Redis the worker runs too
    assert {p for p in defaults if p.exists()} == existed


def test_dry_run_offers_the_python_upgrade_when_python_is_too_old(tmp_path: Path) -> None:
    for distro, expected in (("ubuntu", "+ add-apt-repository -y ppa:deadsnakes/ppa"),
                             ("rocky", "+ env PYENV_ROOT=/opt/pyenv /opt/pyenv/bin/pyenv install -s 3.12")):
        os_release = tmp_path / f"{distro}-release"
        os_release.write_text(OS_RELEASES[distro])
        result = deploy("--dry-run", "--os-release", str(os_release), "--prefix", str(tmp_path / "opt"),
                        env={"VIDRAG_MIN_PYTHON": "3.99"})
        assert result.returncode == 0, result.stderr
        assert "no Python >= 3.99 found" in result.stderr
        assert expected in result.stdout
        python = "/usr/bin/python3.12" if distro == "ubuntu" else "/opt/pyenv/versions/3.12.x/bin/python3.12"
        assert f"then the venv is built with {python}" in result.stdout
        assert f"+ {python} -m venv" in result.stdout


def test_too_old_python_stops_a_real_run_before_it_changes_anything(tmp_path: Path) -> None:
    need_root()
    before = fingerprint(SYSTEM_FILES)
    result = deploy("--skip-packages", "--prefix", str(tmp_path / "opt"), "--data-dir", str(tmp_path / "data"),
                    "--config-dir", str(tmp_path / "etc"), "--unit-dir", str(tmp_path / "units"),
                    "--user", "vidrag-old", env={"VIDRAG_MIN_PYTHON": "3.99"})
    assert result.returncode == 1
    assert "deploy/upgrade_python.sh" in result.stderr
    assert "--upgrade-python" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert fingerprint(SYSTEM_FILES) == before


def test_a_real_run_needs_root_and_says_so() -> None:
    need_root()
    nobody = pwd.getpwnam("nobody")
    copy = world_readable_tmpdir("vidrag-deploy-nonroot-")
    try:
        shutil.copy(DEPLOY, copy / "deploy.sh")
        result = subprocess.run(["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups",
                                 "bash", str(copy / "deploy.sh"), "--prefix", str(copy / "opt")],
                                capture_output=True, text=True, timeout=30, check=False)
    finally:
        shutil.rmtree(copy)
    assert result.returncode == 1
    assert "run it as root" in result.stderr
    assert "--dry-run" in result.stderr


def test_bad_options_are_refused_with_a_hint() -> None:
    result = deploy("--dry-run", "--port", "99999")
    assert result.returncode == 1
    assert "--port must be 1-65535" in result.stderr
    result = deploy("--frobnicate")
    assert result.returncode == 2
    assert "unknown option '--frobnicate'" in result.stderr
    result = deploy("--dry-run", "--user", "root")
    assert result.returncode == 1
    assert "dedicated system user" in result.stderr
    result = deploy("--dry-run", "--purge")
    assert result.returncode == 1
    assert "--purge goes with --uninstall" in result.stderr


# --- a real install into a temporary root ----------------------------------------------------------------------------
@dataclass
class Deployment:
    root: Path
    user: str
    port: int
    args: list[str]
    env: dict[str, str]
    first_output: str

    @property
    def prefix(self) -> Path:
        return self.root / "opt"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def env_file(self) -> Path:
        return self.root / "etc" / "vidrag.env"

    @property
    def unit_dir(self) -> Path:
        return self.root / "units"

    def run(self, *extra: str) -> subprocess.CompletedProcess[str]:
        result = deploy(*self.args, *extra, env=self.env)
        assert result.returncode == 0, f"deploy.sh {' '.join(extra)} failed:\n{result.stdout}\n{result.stderr}"
        return result


def uv_bin_dir(root: Path) -> Path:
    """A directory with `uv` in it: this venv's or the one on PATH, else uv from PyPI installed for this test."""
    if (Path(sys.executable).parent / "uv").exists():
        return Path(sys.executable).parent
    found = shutil.which("uv")
    if found:
        return Path(found).parent
    target = root / "uv-tool"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--target", str(target), "uv"], check=True,
                   timeout=300)
    return target / "bin"


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    need_root()
    root = world_readable_tmpdir("vidrag-deploy-")
    user = f"vidrag-t{uuid.uuid4().hex[:8]}"
    port = free_port()
    args = ["--prefix", str(root / "opt"), "--data-dir", str(root / "data"), "--config-dir", str(root / "etc"),
            "--unit-dir", str(root / "units"), "--user", user, "--skip-packages", "--no-console",
            "--installer", "uv"]
    env = {"PATH": f"{uv_bin_dir(root)}:{os.environ['PATH']}"}
    try:
        started = time.monotonic()
        result = deploy(*args, "--host", "127.0.0.1", "--port", str(port), env=env)
        assert result.returncode == 0, f"deploy.sh failed:\n{result.stdout}\n{result.stderr}"
        print(f"deploy.sh install: {time.monotonic() - started:.1f} s")
        yield Deployment(root, user, port, args, env, result.stdout)
    finally:
        deploy(*args, "--uninstall", "--purge", env=env)
        subprocess.run(["userdel", user], capture_output=True, check=False)  # in case --purge never got there
        shutil.rmtree(root, ignore_errors=True)


def test_install_lays_out_user_release_settings_units(deployment: Deployment) -> None:
    d = deployment
    user = pwd.getpwnam(d.user)
    assert user.pw_uid < 1000
    assert user.pw_shell.endswith("nologin")
    # settings: root only, a real secret, the chosen address
    info = d.env_file.stat()
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_uid == 0
    settings = read_env_file(d.env_file)
    secret = settings["VIDRAG_SECRET_KEY"]
    assert len(secret) >= 32
    assert "generated" not in secret
    assert "change" not in secret.lower()
    assert settings["HOST"] == "127.0.0.1"
    assert settings["PORT"] == str(d.port)
    assert settings["VIDRAG_DATA_DIR"] == str(d.data_dir)
    # data: the service user's, private
    data = d.data_dir.stat()
    assert data.st_uid == user.pw_uid
    assert stat.S_IMODE(data.st_mode) == 0o750
    assert (d.data_dir / "vidrag.db").stat().st_uid == user.pw_uid  # migrated as the service user
    # code: root's, a release venv behind a link, built from a copy (the checkout is not used at run time)
    venv = d.prefix / "venv"
    assert venv.is_symlink()
    assert os.readlink(venv).startswith("releases/")
    assert (venv / "bin" / "vidrag").stat().st_uid == 0
    site = next((venv / "lib").glob("python3.*/site-packages"))
    assert (site / "vidrag" / "settings.py").is_file()
    assert not list(site.glob("__editable__*"))
    assert (site / "vidrag" / "retrieval" / "models").is_dir()  # package data came along
    # units
    api = unit_service_section(d.unit_dir / "vidrag-api.service")
    assert api["User"] == [d.user]
    assert api["ExecStart"] == [f"{venv}/bin/vidrag serve"]
    assert api["ReadWritePaths"] == [str(d.data_dir)]
    assert api["PrivateTmp"] == ["no"]
    worker = unit_service_section(d.unit_dir / "vidrag-worker.service")
    assert worker["ExecStart"] == [f"{venv}/bin/vidrag worker"]
    # the worker's ExecCondition, run as systemd would (with "$$" unescaped): skip without Redis, run with it
    condition = shlex.split(worker["ExecCondition"][0].replace("$$", "$"))
    assert subprocess.run(condition, env=settings, check=False).returncode == 1
    with_redis = {**settings, "VIDRAG_REDIS_URL": "redis://127.0.0.1:6379/0"}
    assert subprocess.run(condition, env=with_redis, check=False).returncode == 0
    # no systemd here: it says how to start it, with systemd and by hand
    assert "systemctl daemon-reload && systemctl enable --now vidrag-api.service" in d.first_output
    assert f"by hand:       sudo {d.prefix}/bin/vidrag serve" in d.first_output
    # the admin wrapper is a shell script too
    shellcheck = shutil.which("shellcheck")
    if shellcheck:
        check = subprocess.run([shellcheck, str(d.prefix / "bin" / "vidrag")], capture_output=True, text=True,
                               check=False)
        assert check.returncode == 0, check.stdout


def test_units_pass_systemd_analyze(deployment: Deployment) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    # control: a trivial valid unit; if even that fails, the environment cannot run the check
    control = deployment.root / "control" / "vidrag-control.service"
    control.parent.mkdir(exist_ok=True)
    control.write_text("[Unit]\nDescription=control\n[Service]\nExecStart=/bin/true\n")
    probe = subprocess.run([analyze, "verify", str(control)], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"systemd-analyze verify fails on a trivial unit here: {probe.stderr.strip()[:300]}")
    units = [str(deployment.unit_dir / u) for u in UNITS]
    result = subprocess.run([analyze, "verify", *units], capture_output=True, text=True, check=False)
    # verify exits 0 on warnings such as an unknown key: any line about our units is a failure
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert "vidrag" not in report, report
    security = subprocess.run([analyze, "security", "--offline=yes", units[0]], capture_output=True, text=True,
                              check=False)
    match = re.search(r"Overall exposure level for vidrag-api\.service: ([\d.]+)", security.stdout)
    if match is None:
        pytest.skip(f"systemd-analyze security --offline is not available: {security.stderr.strip()[:200]}")
    assert float(match.group(1)) <= 2.5, security.stdout[-3000:]


def start_like_the_unit(d: Deployment, log: Path) -> subprocess.Popen[bytes]:
    """What systemd would do with vidrag-api.service: its user, directory, environment and command."""
    unit = unit_service_section(d.unit_dir / "vidrag-api.service")
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    for assignment in unit.get("Environment", []):
        key, value = assignment.split("=", 1)
        env[key] = value
    env.update(read_env_file(Path(unit["EnvironmentFile"][0])))
    user = unit["User"][0]
    command = ["setpriv", f"--reuid={user}", f"--regid={unit['Group'][0]}", "--init-groups", "--no-new-privs",
               *shlex.split(unit["ExecStart"][0])]
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=unit["WorkingDirectory"][0], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def test_installed_service_started_as_the_unit_says_answers_health(deployment: Deployment) -> None:
    d = deployment
    log = d.root / "api.log"
    proc = start_like_the_unit(d, log)
    try:
        deadline, answer = time.monotonic() + 120, None  # the first start compiles nothing but imports a lot
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{d.port}/api/health", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        assert answer is not None, f"no answer from the installed service:\n{log.read_text()[-3000:]}"
        assert answer.status_code == 200
        assert answer.json()["status"] == "healthy"
        status = Path(f"/proc/{proc.pid}/status").read_text()
        uid = int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))  # type: ignore[union-attr]
        assert uid == pwd.getpwnam(d.user).pw_uid  # the service user runs it, from the release venv
    finally:
        stop_group(proc)
    # a clean shutdown on SIGTERM (uvicorn then re-raises it, which systemd counts as success)
    assert proc.returncode in (0, -15), log.read_text()[-3000:]
    assert "Application shutdown complete" in log.read_text()


def test_rerun_upgrades_in_place_keeping_settings_and_data(deployment: Deployment) -> None:
    d = deployment
    settings_before = d.env_file.read_text()
    release_before = os.readlink(d.prefix / "venv")
    marker = d.data_dir / "media" / "kept.txt"
    marker.write_text("still here")
    time.sleep(1.1)  # releases are named by the second
    new_port = free_port()
    started = time.monotonic()
    result = d.run("--port", str(new_port))
    print(f"deploy.sh upgrade: {time.monotonic() - started:.1f} s")
    assert "upgrade the install in" in result.stdout
    assert "kept (an upgrade never rewrites it)" in result.stdout
    # the same file, secret included; only the line the option names changed
    settings_after = d.env_file.read_text()
    assert read_env_file(d.env_file)["PORT"] == str(new_port)
    assert [x for x in settings_after.splitlines() if not x.startswith("PORT=")] == \
        [x for x in settings_before.splitlines() if not x.startswith("PORT=")]
    assert stat.S_IMODE(d.env_file.stat().st_mode) == 0o600
    assert marker.read_text() == "still here"
    assert (d.data_dir / "vidrag.db").exists()
    release_after = os.readlink(d.prefix / "venv")
    assert release_after != release_before
    assert (d.prefix / release_before).exists()  # the previous release stays for a rollback
    assert (d.prefix / release_after / "bin" / "vidrag").exists()


def test_uninstall_keeps_data_unless_purged(deployment: Deployment) -> None:
    d = deployment
    d.run("--uninstall")
    assert not d.prefix.exists()
    assert not any((d.unit_dir / u).exists() for u in UNITS)
    assert d.env_file.exists()
    assert (d.data_dir / "vidrag.db").exists()
    pwd.getpwnam(d.user)  # the user stays while data it owns does
    d.run("--uninstall", "--purge")
    assert not d.data_dir.exists()
    assert not d.env_file.exists()
    with pytest.raises(KeyError):
        pwd.getpwnam(d.user)
