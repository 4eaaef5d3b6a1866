"""The small HTTP server every service runs: /healthz and /metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from newsflow_common.metrics import HEALTHY


@dataclass
class Health:
    """Named checks a service flips as its surroundings come and go."""

    service: str
    checks: dict[str, str] = field(default_factory=dict)
    """Check name -> "ok" or a short reason it is not."""

    def ok(self, check: str) -> None:
        self.checks[check] = "ok"
        self._publish()

    def degraded(self, check: str, reason: str) -> None:
        self.checks[check] = reason
        self._publish()

    @property
    def healthy(self) -> bool:
        return all(state == "ok" for state in self.checks.values())

    def _publish(self) -> None:
        HEALTHY.labels(self.service).set(1 if self.healthy else 0)


def make_app(health: Health) -> web.Application:
    async def healthz(_: web.Request) -> web.Response:
        status = "ok" if health.healthy else "degraded"
        body = {"service": health.service, "status": status, "checks": health.checks}
        return web.json_response(body, status=200 if health.healthy else 503)

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app


async def start_http(health: Health, host: str, port: int) -> web.AppRunner:
    """Serve /healthz and /metrics in the running event loop; stop with ``await runner.cleanup()``."""
    runner = web.AppRunner(make_app(health), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
