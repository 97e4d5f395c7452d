"""Prometheus for the tests: the shipped dashboard and alert expressions, their metric names, and a real server.

``promql_selectors`` pulls the metric names (and the label names they are filtered by) out of a PromQL
expression, so a test can check them against what /metrics really exposes. ``running_prometheus`` starts the
Debian ``prometheus`` binary on 127.0.0.1 with a 0.5 s scrape interval and the shipped alert rules.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.backends import services_required
from tests.support.service import REPO, free_port, stop_group

PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "vidrag.json"
GRAFANA_DURATIONS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}
# series Prometheus makes itself for each target: not on any /metrics page
SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
TARGET_LABELS = {"job", "instance"}

_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
             "offset", "inf", "nan", "atan2"}
_IDENT = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'')
_SELECTOR = re.compile(rf"(?<![\w.$])({_IDENT})\s*(\{{[^}}]*\}})?")
_MATCHER_LABEL = re.compile(rf"({_IDENT})\s*(?:=~|!~|!=|=)")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_RANGE = re.compile(r"\[[^\]]*\]")


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        message = f"{tool} is not installed (Debian package prometheus; ./scripts/test installs it)"
        if services_required():
            pytest.fail(message)
        pytest.skip(message)
    return path


def promql_selectors(expr: str) -> dict[str, set[str]]:
    """Metric name -> label names it is matched on, for every selector in ``expr``."""
    for grafana, duration in GRAFANA_DURATIONS.items():
        expr = expr.replace(grafana, duration)
    # Strings are masked (not removed) so that matcher blocks keep their shape: {route!~"..."}
    masked = _STRING.sub('""', expr)
    masked = _GROUPING.sub(" ", _RANGE.sub(" ", masked))
    found: dict[str, set[str]] = {}
    for match in _SELECTOR.finditer(masked):
        name, matchers = match.group(1), match.group(2) or ""
        rest = masked[match.end():].lstrip()
        if name.lower() in _KEYWORDS or (not matchers and rest.startswith("(")):
            continue  # an operator, or a function / aggregation call
        found.setdefault(name, set()).update(_MATCHER_LABEL.findall(matchers))
    return found


@dataclass(frozen=True)
class Query:
    where: str  # "dashboard: <panel title>" or "alert: <name>"
    expr: str


def dashboard_queries(path: Path = DASHBOARD) -> list[Query]:
    dashboard = json.loads(path.read_text())
    out = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            out.append(Query(f"dashboard: {panel['title']} [{target['refId']}]", target["expr"]))
    return out


def alert_rules(path: Path = PROMETHEUS_DIR / "alerts.yml") -> list[dict[str, Any]]:
    groups = yaml.safe_load(path.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def alert_queries(path: Path = PROMETHEUS_DIR / "alerts.yml") -> list[Query]:
    return [Query(f"alert: {rule['alert']}", rule["expr"]) for rule in alert_rules(path)]


def for_query(expr: str) -> str:
    for grafana, duration in GRAFANA_DURATIONS.items():
        expr = expr.replace(grafana, duration)
    return expr


@dataclass
class Prometheus:
    base_url: str
    client: httpx.Client

    def query(self, expr: str) -> list[dict[str, Any]]:
        body = self.client.get("/api/v1/query", params={"query": for_query(expr)}).json()
        assert body["status"] == "success", (expr, body)
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def wait_for_samples(self, jobs: set[str], samples: int = 3, timeout: float = 30) -> None:
        """Until every job's targets are up and have ``samples`` scrapes (rate() needs two)."""
        deadline = time.monotonic() + timeout
        while True:
            got = {r["metric"]["job"]: float(r["value"][1])
                   for r in self.query("min by (job) (count_over_time(up[1m]) * on (job, instance) up)")}
            if all(got.get(job, 0) >= samples for job in jobs):
                return
            if time.monotonic() > deadline:
                targets = self.client.get("/api/v1/targets").json()["data"]["activeTargets"]
                raise AssertionError(f"Prometheus has {got} scrapes, wanted {samples} of {jobs}; targets: "
                                     + json.dumps([(t["labels"], t["health"], t["lastError"]) for t in targets]))
            time.sleep(0.2)

    def rules(self) -> list[dict[str, Any]]:
        groups = self.client.get("/api/v1/rules").json()["data"]["groups"]
        return [rule for group in groups for rule in group["rules"]]


@contextmanager
def running_prometheus(targets: dict[str, list[str]], workdir: Path,
                       rule_files: tuple[Path, ...] = (PROMETHEUS_DIR / "alerts.yml",)) -> Iterator[Prometheus]:
    """A real Prometheus scraping ``targets`` (job name -> host:port list) twice a second, with ``rule_files``."""
    binary = need("prometheus")
    workdir.mkdir(parents=True, exist_ok=True)
    config = {
        "global": {"scrape_interval": "500ms", "scrape_timeout": "500ms", "evaluation_interval": "500ms"},
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": [{"job_name": job, "static_configs": [{"targets": hosts}]}
                           for job, hosts in targets.items()],
    }
    config_file = workdir / "prometheus.yml"
    config_file.write_text(json.dumps(config))  # JSON is YAML
    port = free_port()
    log = (workdir / "prometheus.log").open("wb")
    proc = subprocess.Popen([binary, f"--config.file={config_file}", f"--storage.tsdb.path={workdir / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    client = httpx.Client(base_url=base, timeout=10)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if client.get("/-/ready").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"prometheus did not start: {(workdir / 'prometheus.log').read_text()[-2000:]}")
            time.sleep(0.1)
        yield Prometheus(base, client)
    finally:
        client.close()
        stop_group(proc, timeout=10)
        log.close()
