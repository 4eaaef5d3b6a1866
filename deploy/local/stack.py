"""The local stack: one noida-db process serving Kafka and Elasticsearch on 127.0.0.1.

    python deploy/local/stack.py up|wait|down|reset|status [--data-dir D] [--kafka-port N] [--es-port M]

Used by ``make run`` and the integration tests; see docs/decisions/001-local-stand-in.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DIR = ROOT / ".newsflow" / "stack"


def noida(*args: str) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("noida-db", path=str(Path(sys.executable).parent)) or "noida-db"
    result = subprocess.run([executable, *args], capture_output=True, text=True, check=False)
    # noida-db prints a harmless GLIBC_2.39 warning on Debian 12; keep the rest.
    lines = [line for line in (result.stdout + result.stderr).splitlines() if "GLIBC" not in line]
    result.stdout = "\n".join(lines)
    return result


def kafka_ready(bootstrap: str) -> bool:
    async def probe() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
        try:
            await admin.start()
            await admin.list_topics()
            return True
        except Exception:
            return False
        finally:
            await admin.close()

    return asyncio.run(probe())


def elasticsearch_ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_cluster/health", timeout=2) as response:
            return bool(json.load(response).get("status") in ("green", "yellow"))
    except OSError:
        return False


def wait(kafka_port: int, es_port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    bootstrap, url = f"127.0.0.1:{kafka_port}", f"http://127.0.0.1:{es_port}"
    while not (kafka_ready(bootstrap) and elasticsearch_ready(url)):
        if time.monotonic() > deadline:
            sys.exit(f"stack: Kafka {bootstrap} or Elasticsearch {url} not ready after {timeout:.0f}s")
        time.sleep(0.5)
    print(f"stack ready: KAFKA_BOOTSTRAP_SERVERS={bootstrap} ELASTICSEARCH_URL={url}")


def up(data_dir: Path, kafka_port: int, es_port: int) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    result = noida(
        "up", "--data-dir", str(data_dir), "--only", "kafka,elasticsearch",
        "--kafka-port", str(kafka_port), "--elasticsearch-port", str(es_port),
    )  # fmt: skip
    if "didn't start" in result.stdout or result.returncode != 0:
        sys.exit(f"stack: noida-db did not start:\n{result.stdout}")
    wait(kafka_port, es_port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "wait", "down", "reset", "status"])
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("NEWSFLOW_STACK_DIR", DEFAULT_DIR)))
    parser.add_argument("--kafka-port", type=int, default=int(os.environ.get("NEWSFLOW_STACK_KAFKA_PORT", 9092)))
    parser.add_argument("--es-port", type=int, default=int(os.environ.get("NEWSFLOW_STACK_ES_PORT", 9200)))
    args = parser.parse_args()
    data_dir = args.data_dir.resolve()
    if args.command == "up":
        up(data_dir, args.kafka_port, args.es_port)
    elif args.command == "wait":
        wait(args.kafka_port, args.es_port)
    elif args.command == "down":
        print(noida("down", "--data-dir", str(data_dir)).stdout)
    elif args.command == "reset":
        noida("down", "--data-dir", str(data_dir))
        shutil.rmtree(data_dir, ignore_errors=True)
        print(f"stack: removed {data_dir}")
    else:
        print(noida("status", "--data-dir", str(data_dir)).stdout)


if __name__ == "__main__":
    main()
