"""The compose deployment's doors: secrets from .env only, security on, nothing published beyond 127.0.0.1."""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, Any] = COMPOSE["services"]
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|API_KEY|SECRET", re.I)


def make_env() -> Any:
    spec = importlib.util.spec_from_file_location("make_env", ROOT / "deploy" / "make_env.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def environments() -> list[tuple[str, str, str]]:
    found = []
    for name, service in SERVICES.items():
        env = service.get("environment") or {}
        items = env.items() if isinstance(env, dict) else (entry.split("=", 1) for entry in env)
        found += [(name, key, str(value)) for key, value in items]
    return found


def test_every_secret_comes_from_the_environment_never_the_file() -> None:
    secrets = [(service, key, value) for service, key, value in environments() if SECRET_NAME.search(key)]
    assert secrets, "expected the deployment to carry credentials"
    for service, key, value in secrets:
        assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", value), f"{service}.{key} must be ${{VAR:?...}}, not a literal"


def test_make_env_generates_every_secret_compose_requires(tmp_path: Path) -> None:
    required = set(re.findall(r"\$\{([A-Z_]+):\?", COMPOSE_TEXT))
    assert required <= set(make_env().SECRETS)
    env_file = tmp_path / ".env"
    subprocess.run(["python3", str(ROOT / "deploy" / "make_env.py"), str(env_file)], check=True)
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    assert required <= set(values)
    assert all(len(v) >= 24 for v in values.values())
    assert env_file.stat().st_mode & 0o077 == 0, ".env must be readable by its owner only"
    before = env_file.read_text()
    subprocess.run(["python3", str(ROOT / "deploy" / "make_env.py"), str(env_file)], check=True)
    assert env_file.read_text() == before, "an existing .env keeps its secrets"


def test_env_file_is_ignored_by_git() -> None:
    result = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT, check=False)
    assert result.returncode == 0


def test_elasticsearch_security_is_on_and_kibana_uses_its_own_account() -> None:
    assert SERVICES["elasticsearch"]["environment"]["xpack.security.enabled"] == "true"
    kibana = SERVICES["kibana"]["environment"]
    assert kibana["ELASTICSEARCH_USERNAME"] == "kibana_system"
    newsflow_user = SERVICES["parse"]["environment"]["NEWSFLOW_ELASTICSEARCH_USERNAME"]
    assert newsflow_user == "newsflow", "the services must not run as the elastic superuser"


def test_kafka_and_elasticsearch_are_not_published_unless_asked() -> None:
    assert "ports" not in SERVICES["kafka"]
    assert "ports" not in SERVICES["elasticsearch"]
    publish = yaml.safe_load((ROOT / "deploy" / "compose.publish.yml").read_text())["services"]
    assert set(publish) == {"kafka", "elasticsearch"}


def test_whatever_is_published_binds_to_loopback_only() -> None:
    published = [p for s in SERVICES.values() for p in s.get("ports", [])]
    published += [
        p
        for s in yaml.safe_load((ROOT / "deploy/compose.publish.yml").read_text())["services"].values()
        for p in s["ports"]
    ]
    assert published
    for port in published:
        assert str(port).startswith("127.0.0.1:"), f"{port} is reachable from other machines"
