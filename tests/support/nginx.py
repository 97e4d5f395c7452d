"""A real Debian nginx (/usr/sbin/nginx) with the shipped deploy/nginx template, on 127.0.0.1 free ports.

The template is rendered the way the official nginx image renders /etc/nginx/templates/*.template: envsubst with
the names it defines. nginx runs as a non-daemon child with its own prefix, pid, logs and temp paths in a fresh
directory. As root, the master switches its workers to ``nobody`` (as a packaged nginx does with www-data), so the
directory must be reachable by that user: it is made under the system temp dir, mode 755, not under pytest's
mode-700 tmp dir.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.service import REPO, free_port

NGINX = Path("/usr/sbin/nginx")
TEMPLATE = REPO / "deploy" / "nginx" / "templates" / "vidrag.conf.template"
WORKER_USER = ("nobody", "nogroup")  # Debian's unprivileged user and group
_TEMPLATE_NAME = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


def template_names(text: str) -> set[str]:
    """The ${UPPER_CASE} template variables of the shipped template (nginx's own variables are lower case)."""
    return set(_TEMPLATE_NAME.findall(text))


def render(template: Path, values: dict[str, str]) -> str:
    """Render like the official image: envsubst, restricted to the defined names, so $host etc. survive."""
    missing = template_names(template.read_text()) - values.keys()
    if missing:
        raise AssertionError(f"template variables without a value: {sorted(missing)}")
    shell_format = " ".join(f"${{{name}}}" for name in sorted(values))
    out = subprocess.run(["envsubst", shell_format], input=template.read_text(), capture_output=True, text=True,
                         check=True, env={**os.environ, **values}).stdout
    assert not template_names(out), f"unrendered template variables: {template_names(out)}"
    return out


def self_signed(directory: Path, host: str = "localhost") -> tuple[Path, Path]:
    """A self-signed certificate for ``host`` and 127.0.0.1 (EC P-256), as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)  # the master reads it before dropping privileges
    return cert_path, key_path


def _main_conf(prefix: Path) -> str:
    """What the official image's nginx.conf does around conf.d/*.conf, with every path inside ``prefix``."""
    user = f"user {WORKER_USER[0]} {WORKER_USER[1]};" if os.geteuid() == 0 else ""
    temp = "\n".join(f"    {kind}_temp_path {prefix}/temp/{kind};" for kind in
                     ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""{user}
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 512; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {prefix}/access.log;
    sendfile on;
{temp}
    include {prefix}/conf.d/*.conf;
}}
"""


@dataclass
class Nginx:
    """The shipped config in front of ``upstream`` (host:port); ports and certificate generated."""

    upstream: str
    max_upload_mb: int = 2048
    prefix: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="vidrag-nginx-")))
    http_port: int = field(default_factory=free_port)
    https_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.prefix.chmod(0o755)  # workers (nobody, as root) create files under temp/
        (self.prefix / "conf.d").mkdir()
        (self.prefix / "temp").mkdir()
        self.cert, self.key = self_signed(self.prefix)
        values = {
            "NGINX_UPSTREAM": self.upstream,
            "NGINX_SERVER_NAME": "localhost",
            "NGINX_HTTP_LISTEN": f"127.0.0.1:{self.http_port}",
            "NGINX_HTTPS_LISTEN": f"127.0.0.1:{self.https_port}",
            "NGINX_HTTPS_REDIRECT_SUFFIX": f":{self.https_port}",
            "NGINX_SSL_CERTIFICATE": str(self.cert),
            "NGINX_SSL_CERTIFICATE_KEY": str(self.key),
            "VIDRAG_MAX_UPLOAD_MB": str(self.max_upload_mb),
            "NGINX_ACCESS_LOG": str(self.access_log_path),
        }
        (self.prefix / "conf.d" / "vidrag.conf").write_text(render(TEMPLATE, values))
        (self.prefix / "nginx.conf").write_text(_main_conf(self.prefix))

    @property
    def access_log_path(self) -> Path:
        return self.prefix / "vidrag-access.log"

    def access_log(self) -> list[dict[str, Any]]:
        """The shipped config's access log, one JSON object a line (nginx writes a line when a request ends)."""
        path = self.access_log_path
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def command(self, *extra: str) -> list[str]:
        return [str(NGINX), "-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf"),
                "-e", str(self.prefix / "error.log"), *extra]

    def check(self) -> subprocess.CompletedProcess[str]:
        """``nginx -t``: the rendered config parses, certificates load, upstream resolves."""
        return subprocess.run(self.command("-t"), capture_output=True, text=True, timeout=30)

    def start(self, timeout: float = 10.0) -> None:
        self.proc = subprocess.Popen(self.command("-g", "daemon off;"), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.https_port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not start: {self.error_log()[-2000:]}")

    def worker_uids(self) -> set[int]:
        """Real UIDs of the master's worker processes."""
        assert self.proc is not None
        uids: set[int] = set()
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                text = status.read_text()
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
            if int(fields.get("PPid", "0").strip()) == self.proc.pid:
                uids.add(int(fields["Uid"].split()[0]))
        return uids

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: finish open requests, then exit
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        shutil.rmtree(self.prefix, ignore_errors=True)
