"""The operator tools' settings (prefix NEWSFLOW_)."""

from __future__ import annotations

from newsflow_common.settings import Settings


class OpsSettings(Settings):
    status_services: str = ""
    """Where ``newsflow status`` finds each service's /healthz and /metrics, as name=url,... (compose sets it:
    every service listens on 8000 inside its network); empty: where ``make run`` starts them (8001-8005)."""

    def services(self) -> dict[str, str]:
        pairs = (item.strip().split("=", 1) for item in self.status_services.split(",") if "=" in item)
        return {name.strip(): url.strip() for name, url in pairs}
