"""Settings from the environment (prefix ``NEWSFLOW_``), one model per service family."""

from __future__ import annotations

from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from newsflow_common.logs import register_secrets


class Settings(BaseSettings):
    """What every service reads: Kafka, Elasticsearch, logging, the health port."""

    model_config = SettingsConfigDict(env_prefix="NEWSFLOW_", extra="ignore", use_attribute_docstrings=True)

    replica: str = "0"
    """Identifies this replica of a service; part of its static consumer group membership."""
    log_level: str = "INFO"
    http_host: str = "0.0.0.0"
    http_port: int = 8000
    """Port of /healthz and /metrics; 0 picks a free one."""
    workers: int = 0
    """Worker processes for a stage's CPU work; 0: the cores this process may use (its cgroup's CPU quota)."""

    kafka_bootstrap_servers: str = "localhost:9092"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = None
    kafka_ssl_certfile: str | None = None
    kafka_ssl_keyfile: str | None = None
    kafka_replication_factor: int = 1
    """Replication factor of the topics newsflow-topics creates; 3 on a production cluster."""
    kafka_max_request_bytes: int = 10 * 1024 * 1024
    """Largest message produced; a DLQ record carries the original bytes, base64."""

    elasticsearch_url: str = "http://localhost:9200"
    elasticsearch_username: str | None = None
    elasticsearch_password: SecretStr | None = None
    elasticsearch_api_key: SecretStr | None = None
    elasticsearch_ca_certs: str | None = None
    elasticsearch_verify_certs: bool = True
    articles_alias: str = "news-articles"
    """Alias of the monthly article indices: search it, write through it."""
    trends_alias: str = "news-trends"

    def model_post_init(self, context: object, /) -> None:
        """Every secret this process knows is kept out of its logs."""
        register_secrets(
            *(value.get_secret_value() for value in self.__dict__.values() if isinstance(value, SecretStr))
        )

    def instance_id(self, service: str) -> str:
        """Static group membership id: stable across restarts of this replica (KIP-345)."""
        return f"newsflow-{service}-{self.replica}"
