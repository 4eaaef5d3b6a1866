"""docker-compose.yml, deploy/Dockerfile and .dockerignore checked against the workspace, without Docker.

What is checked: the console scripts the services run exist, the NEWSFLOW_* variables exist in the settings
models, long-running services have health checks and restart policies, dependencies and volumes resolve, the
Kafka settings our delivery guarantees rely on are there, and the image copies files that exist.
"""

from __future__ import annotations

import importlib
import inspect
import json
import posixpath
import re
import shlex
import tomllib
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic_settings import BaseSettings

from newsflow_common.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

# Modules where services subclass Settings; a module that does not exist (yet) is skipped.
SERVICE_SETTINGS_MODULES = (
    "newsflow_ingest.settings",
    "newsflow_parse.settings",
    "newsflow_enrich.settings",
    "newsflow_index.settings",
    "newsflow_analyst.settings",
    "newsflow_ops.settings",
)
AGREED_VARIABLES: set[str] = set()
"""Variables compose may set before a settings model reads them (none: every one is read)."""
EXPECTED_SERVICES = {
    "kafka",
    "elasticsearch",
    "kibana",
    "topics",
    "es-setup",
    "ingest",
    "parse",
    "enrich",
    "index",
    "api",
}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
RESTART_FOREVER = {"always", "unless-stopped"}
RESTART_POLICIES = RESTART_FOREVER | {"on-failure"}

Service = dict[str, Any]


# --- the compose file ---------------------------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "docker-compose.yml is not a mapping"
    return data


def services() -> dict[str, Service]:
    found = compose().get("services")
    assert isinstance(found, dict), "docker-compose.yml: services is not a mapping"
    assert found, "docker-compose.yml has no services"
    return found


def environment(service: Service) -> dict[str, Any]:
    """A service's environment, from either the mapping or the list form."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return {key: value if sep else None for key, sep, value in (item.partition("=") for item in env)}
    assert isinstance(env, dict), f"environment is neither a mapping nor a list: {env!r}"
    return env


def command_words(service: Service) -> list[str]:
    command = service.get("command")
    if command is None:
        return []
    if isinstance(command, str):
        return shlex.split(command)
    return [str(word) for word in command]


def depends_on(service: Service) -> dict[str, dict[str, Any]]:
    """Dependencies in the long form; the short (list) form means condition service_started."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: {"condition": "service_started"} for name in deps}
    return deps


def builds_our_image(service: Service) -> bool:
    build = service.get("build")
    if build is None:
        return False
    context, dockerfile = (build, "Dockerfile") if isinstance(build, str) else (build.get("context", "."), None)
    dockerfile = dockerfile or build.get("dockerfile", "Dockerfile")
    return (COMPOSE_FILE.parent / context / dockerfile).resolve() == DOCKERFILE.resolve()


def newsflow_services() -> dict[str, Service]:
    """Services that run the newsflow image: built from deploy/Dockerfile, or using the image such a service tags."""
    built = {name: service for name, service in services().items() if builds_our_image(service)}
    images = {service["image"] for service in built.values() if "image" in service}
    return {name: s for name, s in services().items() if name in built or s.get("image") in images}


def one_shot_jobs() -> set[str]:
    """Services that others wait for to exit: the targets of service_completed_successfully."""
    return {
        target
        for service in services().values()
        for target, dep in depends_on(service).items()
        if dep.get("condition") == "service_completed_successfully"
    }


def long_running() -> dict[str, Service]:
    return {name: service for name, service in services().items() if name not in one_shot_jobs()}


def kafka_service() -> Service:
    kafkas = [s for s in services().values() if str(s.get("image", "")).startswith("apache/kafka:")]
    assert len(kafkas) == 1, f"expected one apache/kafka service, found {len(kafkas)}"
    return kafkas[0]


# --- the workspace ------------------------------------------------------------------------------


def workspace_members() -> list[Path]:
    root = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = root["tool"]["uv"]["workspace"]["members"]
    members = sorted(
        {path for pattern in patterns for path in ROOT.glob(pattern) if (path / "pyproject.toml").is_file()}
    )
    assert members, f"no workspace member matches {patterns}"
    return members


@cache
def console_scripts() -> frozenset[str]:
    """Every [project.scripts] name declared by the workspace's members."""
    scripts: set[str] = set()
    for member in workspace_members():
        project = tomllib.loads((member / "pyproject.toml").read_text(encoding="utf-8")).get("project", {})
        scripts.update(project.get("scripts", {}))
    assert scripts, "the workspace declares no console scripts"
    return frozenset(scripts)


def settings_modules() -> list[ModuleType]:
    modules = [importlib.import_module(Settings.__module__)]
    for name in SERVICE_SETTINGS_MODULES:
        try:
            modules.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:  # the module exists but something it imports is missing: a real error
                raise
    return modules


@cache
def settings_env_names() -> frozenset[str]:
    """The environment variable names the settings models read: prefix + field name, upper case."""
    classes: set[type[BaseSettings]] = {Settings}
    for module in settings_modules():
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseSettings) and obj is not BaseSettings:
                classes.add(obj)
    names: set[str] = set()
    for cls in classes:
        prefix = str(cls.model_config.get("env_prefix", ""))
        for field_name, info in cls.model_fields.items():
            names.add((prefix + field_name).upper())
            if isinstance(info.validation_alias, str):
                names.add(info.validation_alias.upper())
    return frozenset(names)


def effective_setting(service: Service, field_name: str) -> Any:
    """What a service's Settings will hold for a field: its compose environment, else the model default."""
    prefix = str(Settings.model_config.get("env_prefix", ""))
    value = environment(service).get((prefix + field_name).upper())
    return value if value is not None else Settings.model_fields[field_name].default


# --- the Dockerfile -----------------------------------------------------------------------------


@cache
def dockerfile_instructions() -> tuple[tuple[str, str], ...]:
    """(INSTRUCTION, arguments), continuation lines joined and comments dropped."""
    logical: list[str] = []
    current = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not current):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    if current.strip():
        logical.append(current)
    return tuple((word.upper(), rest.strip()) for word, _, rest in (line.partition(" ") for line in logical))


def copy_sources(arguments: str) -> list[str] | None:
    """Context paths of a COPY/ADD; None when it copies from another stage or image (--from)."""
    words = [str(word) for word in json.loads(arguments)] if arguments.startswith("[") else shlex.split(arguments)
    if any(word.startswith("--from") for word in words):
        return None
    paths = [word for word in words if not word.startswith("--")]
    assert len(paths) >= 2, f"COPY needs a source and a destination: {arguments!r}"
    return paths[:-1]


def copies() -> list[tuple[int, list[str]]]:
    """(instruction index, context sources) of every COPY/ADD from the build context."""
    found: list[tuple[int, list[str]]] = []
    for index, (instruction, arguments) in enumerate(dockerfile_instructions()):
        if instruction in ("COPY", "ADD"):
            sources = copy_sources(arguments)
            if sources is not None:
                found.append((index, sources))
    assert found, "the Dockerfile copies nothing from the build context"
    return found


def ignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    """(excludes, pattern) per .dockerignore line; `**` spans directories, `*` and `?` do not."""
    rules: list[tuple[bool, re.Pattern[str]]] = []
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        excludes = not line.startswith("!")
        pattern = posixpath.normpath(line.lstrip("!").strip().lstrip("/"))
        regex = ""
        index = 0
        while index < len(pattern):
            if pattern.startswith("**/", index):
                regex, index = regex + "(?:.*/)?", index + 3
            elif pattern.startswith("**", index):
                regex, index = regex + ".*", index + 2
            elif pattern[index] == "*":
                regex, index = regex + "[^/]*", index + 1
            elif pattern[index] == "?":
                regex, index = regex + "[^/]", index + 1
            elif pattern[index] == "[":
                end = pattern.index("]", index)
                regex, index = regex + pattern[index : end + 1], end + 1
            else:
                regex, index = regex + re.escape(pattern[index]), index + 1
        rules.append((excludes, re.compile(regex + r"\Z")))
    return rules


def ignored(path: str) -> bool:
    """Whether .dockerignore keeps `path` (relative to the context) out of the build, itself or a parent."""
    parts = Path(path).parts
    candidates = ["/".join(parts[: end + 1]) for end in range(len(parts))]
    excluded = False
    for excludes, regex in ignore_rules():
        if any(regex.match(candidate) for candidate in candidates):
            excluded = excludes
    return excluded


def context_files(source: str) -> list[Path]:
    """The files a COPY source stands for, as far as a build needs them (sources, manifests, data)."""
    matched = sorted(ROOT.glob(source)) if any(c in source for c in "*?[") else [ROOT / source]
    files: list[Path] = []
    for path in matched:
        if path.is_dir():
            files += [p for p in path.rglob("*") if p.suffix in {".py", ".toml", ".yaml", ".json", ".typed"}]
        else:
            files.append(path)
    return files


# --- tests: compose -----------------------------------------------------------------------------


def test_compose_parses_and_has_the_stack() -> None:
    missing = EXPECTED_SERVICES - set(services())
    assert not missing, f"services missing from docker-compose.yml: {sorted(missing)}"
    for name, service in services().items():
        assert isinstance(service, dict), f"{name}: not a mapping"
        assert "image" in service or "build" in service, f"{name}: neither image nor build"


def test_newsflow_image_is_built_from_deploy_dockerfile() -> None:
    ours = newsflow_services()
    assert {"topics", "es-setup", "ingest", "parse", "enrich", "index"} <= set(ours), sorted(ours)
    assert DOCKERFILE.is_file()


def test_newsflow_commands_are_workspace_console_scripts() -> None:
    scripts = console_scripts()
    problems = []
    for name, service in newsflow_services().items():
        words = command_words(service)
        if not words:
            problems.append(f"{name}: no command (the image has no default)")
        elif words[0] not in scripts:
            problems.append(f"{name}: {words[0]!r} is not a console script of the workspace {sorted(scripts)}")
    assert not problems, "\n".join(problems)


def test_long_running_services_have_healthcheck_and_restart_policy() -> None:
    problems = []
    for name, service in long_running().items():
        check = service.get("healthcheck") or {}
        if check.get("disable") or not check.get("test") or check["test"] in (["NONE"], "NONE"):
            problems.append(f"{name}: no healthcheck")
        if service.get("restart") not in RESTART_POLICIES:
            problems.append(f"{name}: restart is {service.get('restart')!r}, not one of {sorted(RESTART_POLICIES)}")
    assert not problems, "\n".join(problems)
    assert {"ingest", "parse", "enrich", "index", "kafka", "elasticsearch"} <= set(long_running())


def test_one_shot_jobs_are_not_restarted_forever() -> None:
    jobs = one_shot_jobs()
    assert {"topics", "es-setup"} <= jobs, f"services wait for these jobs to complete: {sorted(jobs)}"
    for name in jobs:
        assert services()[name].get("restart", "no") not in RESTART_FOREVER, f"{name} would run again and again"


def test_depends_on_names_existing_services_with_valid_conditions() -> None:
    problems = []
    for name, service in services().items():
        for target, dep in depends_on(service).items():
            condition = dep.get("condition")
            if target not in services():
                problems.append(f"{name}: depends on unknown service {target!r}")
            elif condition not in CONDITIONS:
                problems.append(f"{name}: condition {condition!r} on {target} is not one of {sorted(CONDITIONS)}")
            elif condition == "service_healthy" and not services()[target].get("healthcheck"):
                problems.append(f"{name}: waits for {target} to be healthy, but {target} has no healthcheck")
            elif target == name:
                problems.append(f"{name}: depends on itself")
    assert not problems, "\n".join(problems)


def test_newsflow_variables_are_settings_fields() -> None:
    known = settings_env_names()
    prefix = str(Settings.model_config.get("env_prefix", "NEWSFLOW_")).upper()
    problems = [
        f"{name}: {key} is not a field of Settings or of a service's settings model"
        for name, service in services().items()
        for key in environment(service)
        if key.upper().startswith(prefix) and key.upper() not in known | AGREED_VARIABLES
    ]
    for instruction, arguments in dockerfile_instructions():
        if instruction == "ENV":
            words = shlex.split(arguments)
            keys = [word.split("=", 1)[0] for word in words] if "=" in words[0] else words[:1]
            problems += [
                f"Dockerfile: ENV {key} is not a settings field"
                for key in keys
                if key.upper().startswith(prefix) and key.upper() not in known
            ]
    assert not problems, "\n".join(problems)


def test_environment_values_are_plain_scalars() -> None:
    # Compose refuses booleans and nested values in `environment`; quote "true"/"false".
    for name, service in services().items():
        for key, value in environment(service).items():
            assert value is None or (isinstance(value, str | int | float) and not isinstance(value, bool)), (
                f"{name}: {key}={value!r} must be a string or a number"
            )


def test_each_replica_has_its_own_static_member_id() -> None:
    # group_instance_id is newsflow-<service>-<replica>: two containers with the same pair fence each other.
    seen: dict[tuple[str, str], str] = {}
    for name, service in newsflow_services().items():
        if name in one_shot_jobs():
            continue
        replica = environment(service).get("NEWSFLOW_REPLICA")
        assert replica is not None, f"{name}: NEWSFLOW_REPLICA is not set"
        scale = service.get("scale", (service.get("deploy") or {}).get("replicas", 1))
        assert int(scale) == 1, f"{name}: {scale} copies would share NEWSFLOW_REPLICA={replica}"
        member = (command_words(service)[0], str(replica))
        assert member not in seen, f"{name} and {seen[member]} both run {member[0]} as replica {member[1]}"
        seen[member] = name
    assert seen, "no long-running newsflow service"


def test_services_reach_kafka_and_elasticsearch_by_service_name() -> None:
    advertised = str(environment(kafka_service()).get("KAFKA_ADVERTISED_LISTENERS", ""))
    advertised_addresses = {listener.split("://", 1)[1] for listener in advertised.split(",") if "://" in listener}
    for name, service in newsflow_services().items():
        for server in str(effective_setting(service, "kafka_bootstrap_servers")).split(","):
            host = server.rsplit(":", 1)[0]
            assert host in services(), f"{name}: Kafka host {host!r} is not a compose service"
            assert server in advertised_addresses, f"{name}: {server} is not among {sorted(advertised_addresses)}"
        es_host = urlsplit(str(effective_setting(service, "elasticsearch_url"))).hostname
        assert es_host in services(), f"{name}: Elasticsearch host {es_host!r} is not a compose service"


def test_healthchecks_ask_the_port_the_service_listens_on() -> None:
    for name, service in newsflow_services().items():
        if name in one_shot_jobs():
            continue
        # Explicit, because each service's settings model has its own default port (8001, 8002, ...).
        port = environment(service).get("NEWSFLOW_HTTP_PORT")
        assert port is not None, f"{name}: NEWSFLOW_HTTP_PORT is not set, its healthcheck would guess the port"
        test = service["healthcheck"]["test"]
        text = test if isinstance(test, str) else " ".join(test)
        assert f":{port}/healthz" in text, f"{name}: healthcheck does not ask /healthz on port {port}: {text}"


def test_kafka_settings_for_transactions_and_large_messages() -> None:
    env = {key: str(value) for key, value in environment(kafka_service()).items()}
    # Exactly-once (docs/decisions/003) on one broker: the transaction log must fit on that broker.
    assert env.get("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR") == "1"
    assert env.get("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR") == "1"
    assert env.get("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR") == "1"
    assert env.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE") == "false", "topics come from the registry only"
    message_max = int(env["KAFKA_MESSAGE_MAX_BYTES"])
    assert int(env["KAFKA_REPLICA_FETCH_MAX_BYTES"]) >= message_max
    for name, service in newsflow_services().items():
        produced = int(effective_setting(service, "kafka_max_request_bytes"))
        assert message_max > produced, f"{name} produces up to {produced} bytes, the broker takes {message_max}"


def test_published_ports_bind_localhost_only() -> None:
    for name, service in services().items():
        for port in service.get("ports", []):
            host_ip = port.get("host_ip") if isinstance(port, dict) else str(port).split(":", 1)[0]
            assert host_ip == "127.0.0.1", f"{name}: port {port!r} is published beyond 127.0.0.1"


def test_named_volumes_are_declared() -> None:
    declared = set(compose().get("volumes") or {})
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source = volume.get("source") if isinstance(volume, dict) else str(volume).split(":", 1)[0]
            if source and not source.startswith((".", "/", "~", "$")):
                assert source in declared, f"{name}: volume {source!r} is not declared under top-level volumes"
    assert declared, "no named volumes: Kafka and Elasticsearch data would not survive a container"


# --- tests: Dockerfile and .dockerignore --------------------------------------------------------


def test_dockerfile_copies_paths_that_exist() -> None:
    for _, sources in copies():
        for source in sources:
            matched = list(ROOT.glob(source)) if any(c in source for c in "*?[") else [ROOT / source]
            assert matched, f"COPY {source}: matches nothing in the repository"
            missing = [path for path in matched if not path.exists()]
            assert not missing, f"COPY {source}: not in the repository"


def test_dockerfile_installs_dependencies_before_copying_sources() -> None:
    # Layer order: every manifest is copied before the first `uv sync`, the code only after it.
    syncs = [
        i
        for i, (instruction, args) in enumerate(dockerfile_instructions())
        if instruction == "RUN" and "uv sync" in args
    ]
    assert len(syncs) >= 2, "expected a dependencies-only `uv sync` and a final one"
    assert "--no-install-workspace" in dockerfile_instructions()[syncs[0]][1]
    assert all("--frozen" in dockerfile_instructions()[i][1] for i in syncs), "uv sync must use the lock as it is"
    early = {source for index, sources in copies() if index < syncs[0] for source in sources}
    wanted = {"pyproject.toml", "uv.lock"} | {
        str((m / "pyproject.toml").relative_to(ROOT)) for m in workspace_members()
    }
    assert wanted <= early, f"copied only after the first uv sync, or not at all: {sorted(wanted - early)}"
    late = {source for index, sources in copies() if index > syncs[0] for source in sources}
    for member in workspace_members():
        relative = member.relative_to(ROOT)
        assert any(relative.is_relative_to(source) for source in late), f"{relative} is never copied"


def test_dockerignore_keeps_what_the_dockerfile_copies() -> None:
    for _, sources in copies():
        for source in sources:
            for path in context_files(source):
                relative = path.relative_to(ROOT).as_posix()
                if "__pycache__" not in relative:
                    assert not ignored(relative), f".dockerignore excludes {relative}, which the image needs"
    assert ignored(".venv"), ".dockerignore should keep the local virtualenv out"
    assert ignored(".git"), ".dockerignore should keep .git out"


def test_image_runs_as_non_root() -> None:
    users = [arguments for instruction, arguments in dockerfile_instructions() if instruction == "USER"]
    assert users, "no USER: the services would run as root"
    assert users[-1].split(":", 1)[0] not in ("root", "0")
