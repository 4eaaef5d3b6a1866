"""``newsflow-api``: the analyst's questions over HTTP (aiohttp), described by an OpenAPI document.

GET /search  /entities/top  /trending  /entities/{name}/timeline  /entities/{name}/related
    /clusters/{cluster_id}  /openapi.json  /healthz  /metrics

Answers are JSON. A bad parameter is a 400 with the reason; Elasticsearch away is a 503.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from elasticsearch import ApiError, AsyncElasticsearch

from newsflow_analyst import queries
from newsflow_analyst.settings import ApiSettings
from newsflow_common import es
from newsflow_common.cli import parse_command_line
from newsflow_common.health import Health, make_app
from newsflow_common.lifecycle import shutdown_event
from newsflow_common.logs import configure_logging, get_logger

SERVICE = "api"
log = get_logger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CLIENT = web.AppKey("client", AsyncElasticsearch)
SETTINGS = web.AppKey("settings", ApiSettings)


class BadRequest(ValueError):
    """A parameter the API cannot use."""


def size_of(request: web.Request, default: int = 10) -> int:
    raw = request.query.get("size", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= request.app[SETTINGS].api_max_size:
        raise BadRequest(f"size must be an integer from 1 to {request.app[SETTINGS].api_max_size}, not {raw!r}")
    return int(raw)


def filters_of(request: web.Request) -> queries.Filters:
    q = request.query
    return queries.Filters(
        source=q.get("source"),
        section=q.get("section"),
        site=q.get("site"),
        language=q.get("language"),
        entity=q.get("entity"),
        entity_type=q.get("entity_type"),
        since=q.get("since"),
        until=q.get("until"),
    )


async def search(request: web.Request) -> Any:
    app = request.app
    return await queries.search(
        app[CLIENT], app[SETTINGS].articles_alias, request.query.get("q"), filters_of(request), size_of(request),
        request.query.get("after"),
    )  # fmt: skip


async def top(request: web.Request) -> Any:
    kind = request.query.get("type", "PERSON")
    rows = await queries.top_entities(
        request.app[CLIENT], request.app[SETTINGS].articles_alias, kind, filters_of(request), size_of(request)
    )
    return {"type": kind, "entities": rows}


async def trending(request: web.Request) -> Any:
    window = request.query.get("window", "24h")
    if not (window[:-1].isdigit() and window[-1] in "mhdw"):
        raise BadRequest(f"window must look like 30m, 24h, 7d or 2w, not {window!r}")
    rows = await queries.trending(
        request.app[CLIENT], request.app[SETTINGS].trends_alias, window, request.query.get("type"), size_of(request)
    )
    return {"window": window, "trends": rows}


async def timeline(request: web.Request) -> Any:
    name, interval = request.match_info["name"], request.query.get("interval", "day")
    rows = await queries.timeline(
        request.app[CLIENT], request.app[SETTINGS].articles_alias, name, interval, filters_of(request)
    )
    return {"entity": name, "interval": interval, "periods": rows}


async def related(request: web.Request) -> Any:
    name = request.match_info["name"]
    rows = await queries.cooccurring(
        request.app[CLIENT], request.app[SETTINGS].articles_alias, name, filters_of(request), size_of(request)
    )
    return {"entity": name, "related": rows}


async def cluster(request: web.Request) -> Any:
    cluster_id = request.match_info["cluster_id"]
    rows = await queries.cluster(
        request.app[CLIENT], request.app[SETTINGS].articles_alias, cluster_id, size_of(request, 100)
    )
    return {"cluster_id": cluster_id, "articles": rows}


def answering(question: Callable[[web.Request], Awaitable[Any]]) -> Handler:
    """JSON out; the caller's mistakes are 400 with the reason, Elasticsearch's troubles 503."""

    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            return web.json_response(await question(request))
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        except ApiError as exc:
            if exc.status_code == 400:
                return web.json_response({"error": f"Elasticsearch refused the query: {exc.message}"}, status=400)
            if not es.is_transient_es_error(exc):
                raise
            return web.json_response({"error": f"Elasticsearch is unavailable: {exc.message}"}, status=503)
        except Exception as exc:
            if not es.is_transient_es_error(exc):
                raise
            return web.json_response({"error": f"Elasticsearch is unavailable: {exc!r}"}, status=503)

    return handler


ROUTES: dict[str, Callable[[web.Request], Awaitable[Any]]] = {
    "/search": search,
    "/entities/top": top,
    "/trending": trending,
    "/entities/{name}/timeline": timeline,
    "/entities/{name}/related": related,
    "/clusters/{cluster_id}": cluster,
}


def _param(name: str, where: str = "query", description: str = "", **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": description,
        "schema": schema or {"type": "string"},
    }


FILTER_PARAMS = [
    _param("source", description="only articles from this source"),
    _param("section"),
    _param("site", description="site name"),
    _param("language", description="ISO 639-1 code"),
    _param("since", description="published at or after: ISO 8601 or date math (now-7d)"),
    _param("until", description="published before"),
]
SIZE = _param("size", description="rows at most", type="integer", minimum=1, default=10)
ENTITY = _param("name", "path", "the entity's name as indexed, e.g. 'Angela Merkel'")


def openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API."""

    def get(summary: str, params: list[dict[str, Any]]) -> dict[str, Any]:
        responses = {
            "200": {"description": "the answer", "content": {"application/json": {"schema": {"type": "object"}}}},
            "400": {"description": "a parameter the API cannot use, with the reason"},
            "503": {"description": "Elasticsearch is unavailable; try again"},
        }
        return {"get": {"summary": summary, "parameters": params, "responses": responses}}

    paths = {
        "/search": get(
            "Articles matching q (title, summary, body), highlighted; newest first without q. Page with `after`.",
            [_param("q"), *FILTER_PARAMS, _param("entity"), _param("entity_type"), SIZE, _param("after")],
        ),
        "/entities/top": get(
            "Entities of a type with the most mentions",
            [_param("type", enum=["PERSON", "ORG", "LOC", "NORP", "EVENT"], default="PERSON"), *FILTER_PARAMS, SIZE],
        ),
        "/trending": get(
            "Terms with the highest trend score in windows that ended within `window`",
            [_param("window", default="24h", pattern="^[0-9]+[mhdw]$"), _param("type"), SIZE],
        ),
        "/entities/{name}/timeline": get(
            "Articles naming the entity per hour or day",
            [ENTITY, _param("interval", enum=list(queries.INTERVALS), default="day"), *FILTER_PARAMS],
        ),
        "/entities/{name}/related": get(
            "People, organizations and places named in the same articles", [ENTITY, *FILTER_PARAMS, SIZE]
        ),
        "/clusters/{cluster_id}": get(
            "The articles of one story cluster, first published first", [_param("cluster_id", "path"), SIZE]
        ),
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "newsflow analyst API", "version": "1"},
        "paths": paths,
    }


def make_api(client: AsyncElasticsearch, settings: ApiSettings, health: Health) -> web.Application:
    """The API on top of the common /healthz and /metrics."""
    app = make_app(health)
    app[CLIENT] = client
    app[SETTINGS] = settings
    for path, question in ROUTES.items():
        app.router.add_get(path, answering(question))
    document = openapi()

    async def serve_openapi(_: web.Request) -> web.Response:
        return web.json_response(document)

    app.router.add_get("/openapi.json", serve_openapi)
    return app


async def serve(settings: ApiSettings) -> None:
    stop = shutdown_event()
    health = Health(SERVICE)
    health.ok("http")
    client = es.client(settings)
    runner = web.AppRunner(make_api(client, settings, health), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.http_host, settings.http_port).start()
    log.info("api listening", host=settings.http_host, port=settings.http_port)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await client.close()
        log.info("stopped")


def main(argv: list[str] | None = None) -> int:
    settings = parse_command_line("newsflow-api", __doc__ or "", ApiSettings, "newsflow-analyst", argv)
    configure_logging(SERVICE, settings.log_level)
    asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
