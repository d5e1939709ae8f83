"""The deployment files (docker-compose.yml, the Dockerfiles, dagster.yaml, workspace.yaml, .env)
agree with each other and with the code. There is no Docker here: they are parsed, not run."""

import importlib
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib

import pytest
import yaml
from dagster import Definitions
from dagster._config import process_config

from etl.settings import DEVELOPMENT_MASTER_KEY, PROJECT_DIR, schema_contract_variable
from etl.source.landing import DATASETS
from pipelines.jobs import DATASET_JOBS, DATASET_TAG

COMPOSE = yaml.safe_load((PROJECT_DIR / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
INSTANCE = yaml.safe_load((PROJECT_DIR / "dagster.yaml").read_text())
WORKSPACE = yaml.safe_load((PROJECT_DIR / "workspace.yaml").read_text())
DAGSTER_SERVICES = ("user_code", "webserver", "daemon", "worker")
CELERY = yaml.safe_load((PROJECT_DIR / "celery.yaml").read_text())
# What the code reads from the environment (etl/settings.py, pipelines/partitions.py).
USER_CODE_VARIABLES = {
    "DATABASE_URL",
    "RAW_DATA_DIR",
    "WAREHOUSE_ENV",
    "WAREHOUSE_PSEUDONYM_KEY",
    "WAREHOUSE_MASTER_KEY",
    "WAREHOUSE_KEYSTORE_URL",
    "WAREHOUSE_QUARANTINE_RETENTION_DAYS",
    "WAREHOUSE_TIMEZONE",
    "WAREHOUSE_PARTITIONS_START",
    "WAREHOUSE_EXECUTOR",
    "WAREHOUSE_CELERY_BROKER",
    "WAREHOUSE_BACKFILL_HOURS_PER_RUN",
    "WAREHOUSE_SCHEMA_CONTRACT",
    *(schema_contract_variable(dataset) for dataset in DATASETS),
}


def dockerfile(name: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments left out."""
    text = (PROJECT_DIR / name).read_text()
    logical = re.sub(r"\\\n", " ", text)
    instructions = []
    for line in logical.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, arguments = line.partition(" ")
            instructions.append((instruction.upper(), " ".join(arguments.split())))
    return instructions


def _values(instructions, name):
    return [arguments for instruction, arguments in instructions if instruction == name]


def _env(instructions) -> dict[str, str]:
    env = {}
    for arguments in _values(instructions, "ENV"):
        env.update(pair.split("=", 1) for pair in shlex.split(arguments))
    return env


def _option(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def _compose_build(service: str) -> str:
    return SERVICES[service]["build"]["dockerfile"]


def _environment(service: str) -> dict[str, str]:
    return SERVICES[service]["environment"]


def test_compose_has_the_warehouse_dagster_storage_user_code_webserver_and_daemon():
    assert set(SERVICES) == {
        "warehouse_postgres",
        "dagster_postgres",
        *DAGSTER_SERVICES,
        "rabbitmq",
        "api",
    }
    for database in ("warehouse_postgres", "dagster_postgres"):
        assert SERVICES[database]["image"].startswith("postgres:")
        assert "pg_isready" in " ".join(SERVICES[database]["healthcheck"]["test"])
    for service in DAGSTER_SERVICES:
        assert (PROJECT_DIR / _compose_build(service)).is_file()


@pytest.mark.parametrize(
    ("service", "needs"),
    [
        ("user_code", {"warehouse_postgres", "dagster_postgres", "rabbitmq"}),
        ("worker", {"warehouse_postgres", "dagster_postgres", "rabbitmq"}),
        ("webserver", {"dagster_postgres", "user_code"}),
        ("daemon", {"dagster_postgres", "user_code"}),
        ("api", {"warehouse_postgres"}),
    ],
)
def test_services_start_after_what_they_need_is_healthy(service, needs):
    depends_on = SERVICES[service]["depends_on"]
    healthy = {name for name, rule in depends_on.items() if rule["condition"] == "service_healthy"}
    assert needs <= healthy
    for name in healthy:
        assert "healthcheck" in SERVICES[name]


def test_the_user_code_server_serves_the_definitions_module_on_4000():
    command = SERVICES["user_code"]["command"]
    [cmd] = _values(dockerfile("Dockerfile_user_code"), "CMD")
    assert json.loads(cmd) == command
    assert command[:3] == ["dagster", "api", "grpc"]
    assert _option(command, "-p") == "4000"
    assert _option(command, "-h") == "0.0.0.0"
    module = importlib.import_module(_option(command, "-m"))
    assert isinstance(module.defs, Definitions)
    assert "4000" in _values(dockerfile("Dockerfile_user_code"), "EXPOSE")
    assert "4000" in SERVICES["user_code"]["healthcheck"]["test"]


def test_the_workspace_points_at_the_user_code_server():
    [entry] = WORKSPACE["load_from"]
    server = entry["grpc_server"]
    assert server["host"] in SERVICES
    assert server["host"] == "user_code"
    assert str(server["port"]) == _option(SERVICES["user_code"]["command"], "-p")
    assert server["location_name"]


@pytest.mark.parametrize("service", ["webserver", "daemon"])
def test_the_webserver_and_daemon_load_the_workspace_their_image_holds(service):
    instructions = dockerfile(_compose_build(service))
    command = SERVICES[service]["command"]
    workdir = _values(instructions, "WORKDIR")[-1]
    copied = " ".join(_values(instructions, "COPY"))
    assert _option(command, "-w") == "workspace.yaml"
    assert "workspace.yaml" in copied and copied.endswith("./")
    assert workdir == _env(instructions)["DAGSTER_HOME"]


def test_the_webserver_listens_on_3000():
    command = SERVICES["webserver"]["command"]
    assert command[0] == "dagster-webserver"
    assert _option(command, "-p") == "3000"
    assert "3000:3000" in SERVICES["webserver"]["ports"]
    assert "3000" in _values(dockerfile("Dockerfile_dagster"), "EXPOSE")
    assert SERVICES["daemon"]["command"][:2] == ["dagster-daemon", "run"]


@pytest.mark.parametrize("name", ["Dockerfile_user_code", "Dockerfile_dagster", "Dockerfile_api"])
def test_dockerfiles_copy_files_that_exist_and_install_with_the_constraints(name):
    instructions = dockerfile(name)
    assert _values(instructions, "FROM") == ["python:3.11-slim"]
    for arguments in _values(instructions, "COPY"):
        *sources, _ = arguments.split()
        for source in sources:
            assert (PROJECT_DIR / source).exists(), f"{name} copies {source}"
    [install] = [run for run in _values(instructions, "RUN") if "pip install" in run]
    assert re.search(r"-c \S*constraints\.txt", install)
    assert _copied_to(instructions, "constraints.txt")
    if name != "Dockerfile_api":
        assert _copied_to(instructions, "dagster.yaml") == f"{_env(instructions)['DAGSTER_HOME']}/"


def _copied_to(instructions, file_name: str) -> str | None:
    """The directory a Dockerfile copies `file_name` into (a relative one read from WORKDIR)."""
    workdir = "/"
    for instruction, arguments in instructions:
        if instruction == "WORKDIR":
            workdir = arguments
        elif instruction == "COPY":
            *sources, destination = arguments.split()
            if file_name in sources:
                if destination.endswith(file_name):
                    destination = destination[: -len(file_name)]
                if not destination.startswith("/"):
                    destination = f"{workdir}/{destination.removeprefix('./')}"
                return destination
    return None


def test_the_user_code_image_keeps_the_project_on_pythonpath():
    instructions = dockerfile("Dockerfile_user_code")
    workdir = _values(instructions, "WORKDIR")[-1]
    assert _env(instructions)["PYTHONPATH"] == workdir
    copied = _values(instructions, "COPY")
    for package in ("etl/", "pipelines/", "schemas/", "sql-scripts/"):
        assert f"{package} {package}" in copied
    volumes = SERVICES["user_code"]["volumes"]
    raw_data = _environment("user_code")["RAW_DATA_DIR"]
    assert any(volume.endswith(f":{raw_data}") for volume in volumes)
    assert raw_data == f"{workdir}/raw_data"


def test_python_erasure_requests_etl_runs_from_the_etl_directory():
    # As in the image: `cd /opt/dagster/app/etl && python erasure_requests_etl.py`, the project
    # on PYTHONPATH. etl/ is then sys.path[0]: none of its modules may shadow the stdlib's.
    shadowing = {path.stem for path in (PROJECT_DIR / "etl").glob("*.py")}
    assert shadowing & sys.stdlib_module_names == set()
    result = subprocess.run(
        [sys.executable, "erasure_requests_etl.py", "--help"],
        cwd=PROJECT_DIR / "etl",
        env={**os.environ, "PYTHONPATH": str(PROJECT_DIR)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "erasure-requests" in result.stdout


def _instance_variables(node) -> set[str]:
    if isinstance(node, dict):
        if set(node) == {"env"}:
            return {node["env"]}
        return set().union(*(_instance_variables(value) for value in node.values()))
    return set()


def test_dagster_yaml_reads_credentials_every_dagster_service_is_given():
    variables = _instance_variables(INSTANCE)
    assert variables
    assert all(name.startswith("DAGSTER_POSTGRES_") for name in variables)
    for service in DAGSTER_SERVICES:
        assert variables <= set(_environment(service)), service
    assert _environment("webserver")["DAGSTER_POSTGRES_HOSTNAME"] == "dagster_postgres"
    dagster_db = SERVICES["dagster_postgres"]["environment"]
    assert _environment("webserver")["DAGSTER_POSTGRES_DB"] == dagster_db["POSTGRES_DB"]
    assert _environment("webserver")["DAGSTER_POSTGRES_USER"] == dagster_db["POSTGRES_USER"]


def test_dagster_yaml_is_valid_instance_config(monkeypatch):
    for name in _instance_variables(INSTANCE):
        monkeypatch.setenv(name, "5432" if name.endswith("PORT") else "value")
    from dagster_postgres import DagsterPostgresStorage

    sections = [(DagsterPostgresStorage, INSTANCE["storage"]["postgres"])]
    for key in ("run_launcher", "run_coordinator", "scheduler"):
        section = INSTANCE[key]
        cls = getattr(importlib.import_module(section["module"]), section["class"])
        sections.append((cls, section.get("config", {})))
    for cls, config in sections:
        result = process_config(cls.config_type(), config)
        assert result.success, (cls.__name__, result.errors)
    assert INSTANCE["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert INSTANCE["scheduler"]["class"] == "DagsterDaemonScheduler"


def test_the_run_queue_limits_each_dataset_by_the_tag_its_jobs_carry():
    limits = INSTANCE["run_coordinator"]["config"]["tag_concurrency_limits"]
    assert {limit["key"] for limit in limits} == {DATASET_TAG}
    assert {limit["value"] for limit in limits} == set(DATASET_JOBS)
    assert {job.tags[DATASET_TAG] for job in DATASET_JOBS.values()} == set(DATASET_JOBS)
    erasure = next(limit for limit in limits if limit["value"] == "erasure-requests")
    assert erasure["limit"] == 1


def test_the_user_code_gets_every_setting_the_code_reads():
    environment = _environment("user_code")
    assert set(environment) >= USER_CODE_VARIABLES
    assert "@warehouse_postgres:5432/" in environment["DATABASE_URL"]


def test_dot_env_holds_local_defaults_for_every_required_compose_variable():
    text = (PROJECT_DIR / ".env").read_text()
    assert text.startswith("# Local development defaults ONLY.")
    # The one long value allowed: the public development master key, refused in production
    # (a master key is 32 bytes, 44 characters of base64).
    public = text.replace(f"WAREHOUSE_MASTER_KEY={DEVELOPMENT_MASTER_KEY}\n", "")
    assert not re.search(r"(?i)(password|secret|key)=.{24,}", public)
    defined = {
        line.split("=", 1)[0] for line in text.splitlines() if line and not line.startswith("#")
    }
    compose_text = (PROJECT_DIR / "docker-compose.yml").read_text()
    required = set(re.findall(r"\$\{(\w+):\?", compose_text))
    plain = set(re.findall(r"(?<!\$)\$\{(\w+)\}", compose_text))
    assert required
    assert (required | plain) <= defined
    # .env is also read by `dagster dev`: it must not send local runs to the compose database.
    assert "DATABASE_URL" not in defined


def test_pyproject_ships_every_package_of_the_code():
    pyproject = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())
    listed = set(pyproject["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(PROJECT_DIR).parts)
        for top in ("etl", "pipelines", "api")
        for init in (PROJECT_DIR / top).rglob("__init__.py")
    }
    assert found == listed


def test_the_api_serves_on_8000_as_the_analyst_whose_password_the_database_gets():
    import tomllib

    command = SERVICES["api"]["command"]
    [cmd] = _values(dockerfile("Dockerfile_api"), "CMD")
    assert json.loads(cmd) == command
    scripts = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["project"]["scripts"]
    assert command[0] in scripts
    assert _option(command, "--port") == "8000"
    assert "8000" in _values(dockerfile("Dockerfile_api"), "EXPOSE")
    assert SERVICES["api"]["ports"] == ["8000:8000"]
    assert "8000/health" in " ".join(SERVICES["api"]["healthcheck"]["test"])
    environment = _environment("api")
    url = environment["WAREHOUSE_API_DATABASE_URL"]
    assert url.startswith("postgresql://warehouse_analyst:${WAREHOUSE_ANALYST_PASSWORD}@")
    assert "@warehouse_postgres:5432/" in url
    assert "WAREHOUSE_API_TOKEN" in environment
    # the warehouse database gives the analyst that password when it is created
    init_script = "./deploy/warehouse-roles.sh"
    mounts = SERVICES["warehouse_postgres"]["volumes"]
    assert any(m.startswith(f"{init_script}:/docker-entrypoint-initdb.d/") for m in mounts)
    assert "WAREHOUSE_ANALYST_PASSWORD" in _environment("warehouse_postgres")
    script = (PROJECT_DIR / init_script).read_text()
    assert "CREATE ROLE warehouse_analyst LOGIN PASSWORD" in script
    assert os.access(PROJECT_DIR / init_script, os.X_OK)
    instructions = dockerfile("Dockerfile_api")
    assert "api/ api/" in _values(instructions, "COPY")
    assert _env(instructions)["PYTHONPATH"] == _values(instructions, "WORKDIR")[-1]


def test_the_workers_run_the_user_code_image_with_the_same_settings_and_files():
    worker, user_code = SERVICES["worker"], SERVICES["user_code"]
    assert worker["image"] == user_code["image"]
    assert _compose_build("worker") == _compose_build("user_code") == "Dockerfile_user_code"
    # a step executes with what its run would have had
    assert worker["environment"] == user_code["environment"]
    assert worker["volumes"] == user_code["volumes"]
    # `docker compose up --scale worker=N`: nothing that only one container may have
    assert not {"container_name", "ports", "hostname"} & set(worker)


def test_the_workers_start_dagster_celery_with_the_config_the_runs_read():
    command = SERVICES["worker"]["command"]
    assert command[:5] == ["dagster-celery", "worker", "start", "-A", "dagster_celery.app"]
    importlib.import_module(command[4])
    instructions = dockerfile("Dockerfile_user_code")
    config_file = _option(command, "-y")
    assert config_file == "celery.yaml"
    assert _copied_to(instructions, config_file) == f"{_values(instructions, 'WORKDIR')[-1]}/"
    importlib.import_module(_option(command, "-i"))
    assert _option(command, "-i") == "pipelines.definitions"
    [install] = [run for run in _values(instructions, "RUN") if "pip install" in run]
    assert "celery" in re.search(r'"\.\[(.*)\]"', install).group(1).split(",")
    # every variable celery.yaml reads is given to the code server (runs) and to the workers
    variables = _instance_variables(CELERY)
    assert variables == {"WAREHOUSE_CELERY_BROKER"}
    for service in ("user_code", "worker"):
        assert variables <= set(_environment(service)), service


def test_the_broker_url_names_the_rabbitmq_service_and_its_credentials():
    rabbitmq = SERVICES["rabbitmq"]
    assert rabbitmq["image"].startswith("rabbitmq:3")
    assert "rabbitmq-diagnostics" in rabbitmq["healthcheck"]["test"]
    credentials = rabbitmq["environment"]
    url = _environment("worker")["WAREHOUSE_CELERY_BROKER"]
    user = credentials["RABBITMQ_DEFAULT_USER"].split(":")[0].removeprefix("${")
    password = credentials["RABBITMQ_DEFAULT_PASS"].split(":")[0].removeprefix("${")
    assert url == f"pyamqp://${{{user}}}:${{{password}}}@rabbitmq:5672//"


def test_the_default_executor_stays_in_process_in_compose():
    assert _environment("user_code")["WAREHOUSE_EXECUTOR"] == "${WAREHOUSE_EXECUTOR:-in_process}"
    defined = {
        line.split("=", 1)[0]
        for line in (PROJECT_DIR / ".env").read_text().splitlines()
        if line and not line.startswith("#")
    }
    # `dagster dev` reads .env too: a local run must not need a broker
    assert "WAREHOUSE_EXECUTOR" not in defined


def test_the_celery_extra_pins_dagster_celery_to_the_pinned_dagster_core():
    pyproject = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())
    extras = pyproject["project"]["optional-dependencies"]
    pins = dict(
        line.split("==")
        for line in (PROJECT_DIR / "constraints.txt").read_text().splitlines()
        if "==" in line
    )
    for requirement in extras["celery"]:
        name, version = requirement.split("==")
        assert pins[name] == version, name
    # libraries release as 0.(core minor + 16).patch with core 1.minor.patch
    core = pins["dagster"].split(".")
    assert pins["dagster-celery"] == f"0.{int(core[1]) + 16}.{core[2]}"
    assert any("celery" in extra for extra in extras["dev"])
