"""The compose deployment as a real Docker host runs it, checked statically: no Docker engine runs here.

The compose file is rendered the way `docker compose` does it — YAML (anchors and merge keys), then `${VAR}`
interpolation from the `.env` that deploy/make_env.py generates — and each property a real host needs is
checked on the result: setup jobs that survive a transient error, an inbox the user can write to, limits,
worker counts, Kibana's keys, the analyst API, where `newsflow status` finds the services, Elasticsearch
over TLS with a CA made by elasticsearch-certutil, images pinned by digest, and a multi-stage image.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import tempfile
from functools import cache
from importlib.metadata import version
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from dotenv import dotenv_values

from tests.unit.test_compose import (
    COMPOSE_FILE,
    DOCKERIGNORE,
    ROOT,
    command_words,
    depends_on,
    dockerfile_instructions,
    ignored,
    one_shot_jobs,
)

VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_]\w*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|(?P<plain>[A-Za-z_]\w*))"
)
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}\Z")
NEWSFLOW_IMAGE = "newsflow:local"
LONG_RUNNING_NEWSFLOW = {"ingest", "parse", "enrich", "index", "api"}
CERTS_TOOL = "elasticsearch-certutil"


class MissingVariable(Exception):
    pass


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation: $$, $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}."""

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["plain"]
        value, op = env.get(name), match["op"] or ""
        unset = value is None or (op.startswith(":") and value == "")
        if unset and op.endswith("-"):
            return match["arg"]
        if unset and op.endswith("?"):
            raise MissingVariable(f"{name}: {match['arg']}")
        return value or ""

    return VARIABLE.sub(substitute, text)


def rendered(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, dict):
        return {key: rendered(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [rendered(value, env) for value in node]
    return node


@cache
def generated_env() -> dict[str, str]:
    """The .env `make env` writes, generated into a scratch folder (never the repository's own)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ".env"
        subprocess.run(["python3", str(ROOT / "deploy" / "make_env.py"), str(path)], check=True, capture_output=True)
        values = dotenv_values(path)
    return {key: value for key, value in values.items() if value is not None}


@cache
def config() -> dict[str, Any]:
    """What `docker compose config` would print: the file with its .env applied."""
    return rendered(yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8")), generated_env())


def service(name: str) -> dict[str, Any]:
    services = config()["services"]
    assert name in services, f"no service {name!r} in docker-compose.yml"
    return services[name]


def env_of(name: str) -> dict[str, str]:
    env = service(name).get("environment") or {}
    assert isinstance(env, dict), f"{name}: write environment as a mapping"
    return {key: str(value) for key, value in env.items()}


def newsflow_names() -> list[str]:
    return [name for name, s in config()["services"].items() if s.get("image") == NEWSFLOW_IMAGE]


def mounts(name: str) -> list[tuple[str, str]]:
    """(source, target) of each volume of a service, short or long syntax."""
    found = []
    for volume in service(name).get("volumes", []):
        if isinstance(volume, dict):
            found.append((str(volume.get("source", "")), str(volume["target"])))
        else:
            source, target = str(volume).split(":")[:2]
            found.append((source, target))
    return found


def script_of(name: str) -> str:
    """The shell a job runs: its command, and the text of a script file it runs from a bind mount."""
    words = command_words(service(name))
    text = " ".join(words)
    for source, target in mounts(name):
        for word in words:
            if source.startswith("./") and word.startswith(target + "/"):
                text += "\n" + (ROOT / source / PurePosixPath(word).relative_to(target)).read_text(encoding="utf-8")
    return text


def memory_bytes(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)([kmg]?)b?", str(text).lower()).groups()  # type: ignore[union-attr]
    return int(float(number) * 1024 ** " kmg".index(unit or " "))


# --- setup jobs ---------------------------------------------------------------------------------


def test_the_file_renders_with_the_generated_env_and_not_without_it():
    assert config()["services"]
    with pytest.raises(MissingVariable):
        rendered(yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8")), {})


def test_one_shot_jobs_are_restarted_when_they_fail():
    # A job that exits 1 once (a transient error right after its dependency turned healthy) must run again,
    # or everything waiting on service_completed_successfully never starts.
    jobs = one_shot_jobs()
    assert {"certs", "es-users", "topics", "es-setup"} <= jobs
    for name in jobs:
        assert service(name).get("restart") == "on-failure", f"{name}: restart must be on-failure"


def test_es_users_retries_each_request_until_elasticsearch_accepts_it():
    script = "\n".join(line for line in script_of("es-users").splitlines() if not line.lstrip().startswith("#"))
    requests = re.findall(r"\bcurl\b", script)
    assert requests, "es-users sends no request"
    retried = re.findall(r"\buntil\s+curl\b", script)
    assert len(retried) == len(requests), "every curl of es-users must sit in an `until` retry loop"
    assert not re.search(r"set -[a-z]*e", script), "set -e would end the job at the first refused request"
    assert re.search(r"SECONDS|deadline", script, re.I), "the retries need a deadline, then exit 1 (on-failure)"


# --- the inbox ----------------------------------------------------------------------------------


def test_the_inbox_is_a_folder_the_user_made_never_one_dockerd_creates_as_root():
    [inbox] = [v for v in service("ingest")["volumes"] if isinstance(v, dict) and v["target"] == "/data/inbox"]
    assert inbox["type"] == "bind"
    assert inbox.get("bind", {}).get("create_host_path") is False, "dockerd would create it owned by root"
    assert inbox.get("read_only") is True
    up = re.search(r"^up:.*?(?=^\S)", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M | re.S)
    assert up, "no `up` target in the Makefile"
    assert "mkdir -p" in up.group(0), "make up must create the inbox as the user before compose starts"


# --- resources ----------------------------------------------------------------------------------


def test_every_service_has_memory_and_cpu_limits():
    for name, svc in config()["services"].items():
        limits = (svc.get("deploy") or {}).get("resources", {}).get("limits", {})
        assert float(limits.get("cpus", 0)) > 0, f"{name}: no CPU limit"
        assert memory_bytes(limits.get("memory", "0")) >= 64 * 1024**2, f"{name}: no memory limit"


def test_jvm_heaps_fit_their_memory_limits():
    for name, variable in (("kafka", "KAFKA_HEAP_OPTS"), ("elasticsearch", "ES_JAVA_OPTS")):
        heap = memory_bytes(re.search(r"-Xmx(\S+)", env_of(name)[variable]).group(1))  # type: ignore[union-attr]
        limit = memory_bytes(service(name)["deploy"]["resources"]["limits"]["memory"])
        assert heap <= limit * 0.75, f"{name}: heap {heap} leaves too little of {limit} for the rest of the JVM"


def test_worker_pools_are_sized_by_newsflow_workers_within_the_cpu_limit():
    # Without it parse and enrich start one worker per *host* core, whatever the container may use.
    for name in ("parse", "enrich"):
        workers = int(env_of(name)["NEWSFLOW_WORKERS"])
        cpus = float(service(name)["deploy"]["resources"]["limits"]["cpus"])
        assert 1 <= workers <= max(1, round(cpus)), f"{name}: {workers} workers on {cpus} CPUs"


# --- Kibana -------------------------------------------------------------------------------------


def test_kibana_has_its_encryption_keys_from_env_and_a_public_base_url():
    raw = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))["services"]["kibana"]["environment"]
    env = env_of("kibana")
    # The Kibana image maps SETTING_NAME to setting.name (xpack.security.encryptionKey, ...), upper case only.
    keys = (
        "XPACK_SECURITY_ENCRYPTIONKEY",
        "XPACK_ENCRYPTEDSAVEDOBJECTS_ENCRYPTIONKEY",
        "XPACK_REPORTING_ENCRYPTIONKEY",
    )
    for key in keys:
        assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", raw.get(key, "")), f"kibana: {key} must come from .env"
        assert len(env[key]) >= 32, f"kibana: {key} needs at least 32 characters"
    assert len({env[key] for key in keys}) == len(keys), "one key per purpose"
    base = urlsplit(env["SERVER_PUBLICBASEURL"])
    assert base.scheme in ("http", "https")
    assert base.hostname
    assert not env["SERVER_PUBLICBASEURL"].endswith("/")


# --- the analyst API and newsflow status --------------------------------------------------------


def test_newsflow_api_runs_in_compose_published_on_loopback():
    api = service("api")
    assert command_words(api)[0] == "newsflow-api"
    assert api.get("healthcheck", {}).get("test")
    assert any(str(port).startswith("127.0.0.1:") for port in api.get("ports", []))
    assert env_of("api")["NEWSFLOW_ELASTICSEARCH_USERNAME"] != env_of("index")["NEWSFLOW_ELASTICSEARCH_USERNAME"], (
        "the API only reads: it gets a read-only user, not the writer's"
    )


def test_newsflow_status_finds_every_service_on_the_port_it_listens_on():
    # `docker compose exec index newsflow status` reads NEWSFLOW_STATUS_SERVICES (name=url,...).
    for name in newsflow_names():
        listed = dict(item.split("=", 1) for item in env_of(name)["NEWSFLOW_STATUS_SERVICES"].split(","))
        assert set(listed) == LONG_RUNNING_NEWSFLOW, f"{name}: status would look for {sorted(listed)}"
        for target, url in listed.items():
            parts = urlsplit(url)
            assert parts.hostname == target, f"{target}: {url} is not the compose service's name"
            assert str(parts.port) == env_of(target)["NEWSFLOW_HTTP_PORT"], f"{target}: {url} is not its port"


# --- TLS to Elasticsearch -----------------------------------------------------------------------


def certs_volume() -> str:
    [(volume, _)] = [(s, t) for s, t in mounts("certs") if t.endswith("/config/certs")]
    assert volume in config().get("volumes", {}), "certificates live in a named volume"
    return volume


def test_a_setup_job_makes_the_ca_and_certificates_with_certutil():
    assert CERTS_TOOL in script_of("certs")
    assert depends_on(service("elasticsearch"))["certs"]["condition"] == "service_completed_successfully"


def test_elasticsearch_serves_https_with_the_generated_certificate():
    env = env_of("elasticsearch")
    assert env["xpack.security.http.ssl.enabled"] == "true"
    assert env["xpack.security.transport.ssl.enabled"] == "true"
    for setting in ("key", "certificate", "certificate_authorities"):
        assert env[f"xpack.security.http.ssl.{setting}"].startswith("certs/"), setting
    assert (certs_volume(), "/usr/share/elasticsearch/config/certs") in mounts("elasticsearch")
    check = " ".join(service("elasticsearch")["healthcheck"]["test"])
    assert "https://" in check
    assert "--cacert" in check


def test_every_client_reaches_elasticsearch_over_https_trusting_the_ca():
    volume = certs_volume()
    clients = [name for name in newsflow_names() if "NEWSFLOW_ELASTICSEARCH_URL" in env_of(name)]
    assert set(clients) >= {"es-setup", "index", "api"}
    for name in clients:
        env = env_of(name)
        assert env["NEWSFLOW_ELASTICSEARCH_URL"].startswith("https://"), name
        assert env.get("NEWSFLOW_ELASTICSEARCH_VERIFY_CERTS", "true") == "true", name
        ca = PurePosixPath(env["NEWSFLOW_ELASTICSEARCH_CA_CERTS"])
        assert any(s == volume and ca.is_relative_to(t) for s, t in mounts(name)), f"{name}: {ca} is not mounted"
    kibana = env_of("kibana")
    assert all(host.startswith("https://") for host in yaml.safe_load(kibana["ELASTICSEARCH_HOSTS"]))
    ca = kibana["ELASTICSEARCH_SSL_CERTIFICATEAUTHORITIES"]
    assert any(s == volume and ca.startswith(t.removeprefix("/usr/share/kibana/")) for s, t in mounts("kibana"))
    for job in ("es-users",):
        assert "https://" in script_of(job)
        assert "--cacert" in script_of(job)


# --- images -------------------------------------------------------------------------------------


def test_every_pulled_image_is_pinned_by_digest():
    for name, svc in config()["services"].items():
        if svc.get("image") != NEWSFLOW_IMAGE:
            assert DIGEST.search(svc["image"]), f"{name}: {svc['image']} is not pinned by digest"
    for instruction, arguments in dockerfile_instructions():
        if instruction == "FROM":
            assert DIGEST.search(arguments.split()[0]), f"Dockerfile: FROM {arguments} is not pinned by digest"


def test_elasticsearch_and_kibana_match_the_client_version():
    client = version("elasticsearch").split(".")[:2]
    for name in ("elasticsearch", "kibana"):
        tag = service(name)["image"].split("@")[0].rsplit(":", 1)[1]
        assert tag.split(".")[:2] == client, f"{name} {tag} does not match the elasticsearch client {client}"
    assert service("elasticsearch")["image"].split("@")[0].rsplit(":")[1] == tag, "Kibana and ES versions differ"


# --- the image ----------------------------------------------------------------------------------


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for instruction, arguments in dockerfile_instructions():
        if instruction == "FROM":
            found.append([])
        if found:
            found[-1].append((instruction, arguments))
    return found


def test_image_is_multi_stage_with_a_non_editable_install_and_a_cmd():
    build, *_, final = stages()
    assert len(stages()) >= 2
    syncs = [args for instruction, args in build if instruction == "RUN" and "uv sync" in args]
    assert "--no-editable" in syncs[-1], "the final uv sync must install the workspace non-editable"
    assert not any(instruction == "RUN" and "uv " in args for instruction, args in final), "no uv in the runtime"
    assert any(instruction == "COPY" and "--from=" in args for instruction, args in final)
    [cmd] = [shlex.split(args) if not args.startswith("[") else yaml.safe_load(args) for i, args in final if i == "CMD"]
    assert cmd, "the image needs a CMD"


def test_dockerignore_keeps_local_state_tools_and_benchmarks_out():
    assert DOCKERIGNORE.is_file()
    for path in (".newsflow", ".tools", "bench", ".venv", ".newsflow/logs/x.log", "bench/e2e.py"):
        assert ignored(path), f".dockerignore lets {path} into the build context"


def test_setup_scripts_are_valid_shell():
    for script in sorted((ROOT / "deploy").rglob("*.sh")):
        result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"{script}: {result.stderr}"


def test_make_env_adds_what_an_older_env_lacks_and_keeps_the_rest(tmp_path: Path):
    # A deployment from before Kibana's keys existed: `make up` must add them, not ask to delete .env.
    env_file = tmp_path / ".env"
    env_file.write_text("ELASTIC_PASSWORD=kept-as-it-was")
    subprocess.run(["python3", str(ROOT / "deploy" / "make_env.py"), str(env_file)], check=True)
    values = dotenv_values(env_file)
    assert values["ELASTIC_PASSWORD"] == "kept-as-it-was"
    assert set(generated_env()) <= set(values)
    assert all(values[key] for key in generated_env())
