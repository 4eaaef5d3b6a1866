"""newsflow-api: the analyst's questions over HTTP (aiohttp), described by an OpenAPI document.

  GET /search  /entities/top  /trending  /trends/{term}/history  /entities/{name}/timeline
      /entities/{name}/related  /clusters/{cluster_id}  /openapi.json  /healthz  /metrics
  GET /  the newsroom page (static files in newsflow_analyst/page, reading only the routes above)

Answers are JSON. A bad parameter is a 400 with the reason; Elasticsearch away is a 503. The OpenAPI document
is generated from the models that validate each request and answer (newsflow_analyst.contract).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from aiohttp import web
from elasticsearch import ApiError, AsyncElasticsearch
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from newsflow_analyst import queries
from newsflow_analyst.contract import (
    ClusterAnswer,
    ClusterParams,
    EntityPath,
    ErrorAnswer,
    HistoryAnswer,
    HistoryParams,
    Params,
    RelatedAnswer,
    SearchAnswer,
    SearchParams,
    TimelineAnswer,
    TimelineParams,
    TopAnswer,
    TopParams,
    TrendingAnswer,
    TrendingParams,
    sized,
)
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


@dataclass(frozen=True)
class Route:
    """One question: its parameters and its answer are models, and the OpenAPI document is made from them."""

    summary: str
    params: type[Params]
    answer: type[BaseModel]
    ask: Callable[[web.Request, Any], Awaitable[dict[str, Any]]]
    size: int | None = None
    """Default page size; None: the question takes no size."""


def filters_of(params: Any) -> queries.Filters:
    def value(name: str) -> str | None:
        found = getattr(params, name, None)
        return None if found is None else str(found)

    return queries.Filters(
        source=value("source"),
        section=value("section"),
        site=value("site"),
        language=value("language"),
        entity=value("entity"),
        entity_type=value("entity_type"),
        since=value("since"),
        until=value("until"),
    )


def articles(request: web.Request) -> tuple[AsyncElasticsearch, str]:
    return request.app[CLIENT], request.app[SETTINGS].articles_alias


async def search(request: web.Request, p: Any) -> dict[str, Any]:
    return await queries.search(*articles(request), p.q, filters_of(p), p.size, p.after)


async def top(request: web.Request, p: Any) -> dict[str, Any]:
    rows = await queries.top_entities(*articles(request), p.type, filters_of(p), p.size)
    return {"type": p.type, "entities": rows}


async def trending(request: web.Request, p: Any) -> dict[str, Any]:
    client, alias = request.app[CLIENT], request.app[SETTINGS].trends_alias
    return {"window": p.window, "trends": await queries.trending(client, alias, p.window, p.type, p.size)}


async def history(request: web.Request, p: Any) -> dict[str, Any]:
    client, alias = request.app[CLIENT], request.app[SETTINGS].trends_alias
    points = await queries.term_history(client, alias, p.term, p.type, p.end, p.length, p.size)
    return {"term": p.term, "length": p.length, "windows": points}


async def timeline(request: web.Request, p: Any) -> dict[str, Any]:
    rows = await queries.timeline(*articles(request), p.name, p.interval, filters_of(p))
    return {"entity": p.name, "interval": p.interval, "periods": rows}


async def related(request: web.Request, p: Any) -> dict[str, Any]:
    rows = await queries.cooccurring(*articles(request), p.name, filters_of(p), p.size)
    return {"entity": p.name, "related": rows}


async def cluster(request: web.Request, p: Any) -> dict[str, Any]:
    return {"cluster_id": p.cluster_id, "articles": await queries.cluster(*articles(request), p.cluster_id, p.size)}


ROUTES: dict[str, Route] = {
    "/search": Route(
        "Articles matching q (title, summary, body), highlighted; newest first without q. Page with `after`.",
        SearchParams, SearchAnswer, search, size=10,
    ),
    "/entities/top": Route("Entities of a type with the most mentions", TopParams, TopAnswer, top, size=10),
    "/trending": Route(
        "Terms with the highest trend score in windows that ended within `window`, each once",
        TrendingParams, TrendingAnswer, trending, size=10,
    ),
    "/trends/{term}/history": Route(
        "A term's counts in the windows of one length before and up to `end`, oldest first (a sparkline)",
        HistoryParams, HistoryAnswer, history, size=12,
    ),
    "/entities/{name}/timeline": Route(
        "Articles naming the entity per hour or day", TimelineParams, TimelineAnswer, timeline
    ),
    "/entities/{name}/related": Route(
        "People, organizations and places named in the same articles", EntityPath, RelatedAnswer, related, size=10
    ),
    "/clusters/{cluster_id}": Route(
        "The articles of one story cluster, first published first", ClusterParams, ClusterAnswer, cluster, size=100
    ),
}  # fmt: skip


def params_model(route: Route, max_size: int) -> type[Params]:
    return route.params if route.size is None else sized(route.params, min(route.size, max_size), max_size)


def refusal(error: ValidationError) -> str:
    """A validation error as one line a person can act on: each parameter and what was wrong with it."""
    reasons = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "parameters"
        reasons.append(f"{where}: {item['msg'].removeprefix('Value error, ')}")
    return "; ".join(reasons)


def answering(route: Route, params: type[Params]) -> Handler:
    """Parameters validated by their model (400 with the reason), the answer by its own; Elasticsearch away: 503."""

    async def handler(request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        response = await answer(request)
        elapsed_ms = round(1000 * (time.perf_counter() - started))
        log.info("answered", path=request.path, query=request.query_string, status=response.status, ms=elapsed_ms)
        return response

    async def answer(request: web.Request) -> web.StreamResponse:
        given = {**{key: request.query[key] for key in request.query}, **request.match_info}
        try:
            asked = params.model_validate(given)
            answer = route.answer.model_validate(await route.ask(request, asked))
        except ValidationError as exc:
            if exc.title != params.__name__:
                raise  # our answer does not fit its own model: a bug, not the caller's
            return error(400, refusal(exc))
        except ValueError as exc:  # a paging cursor that is not ours
            return error(400, str(exc))
        except ApiError as exc:
            if exc.status_code == 400:
                log.warning("elasticsearch refused a question", path=request.path, error=es.refusal_reason(exc))
                return error(400, "these parameters cannot be answered (Elasticsearch refused the question)")
            if not es.is_transient_es_error(exc):
                raise
            return error(503, f"Elasticsearch is unavailable: {exc.message}")
        except Exception as exc:
            if not es.is_transient_es_error(exc):
                raise
            return error(503, f"Elasticsearch is unavailable: {type(exc).__name__}")
        return web.json_response(answer.model_dump(mode="json"))

    return handler


def error(status: int, reason: str) -> web.Response:
    return web.json_response(ErrorAnswer(error=reason).model_dump(), status=status)


def query_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema without the null branch of an optional: in a query string, absent is null."""
    branches = [branch for branch in schema.get("anyOf", ()) if branch.get("type") != "null"]
    if len(branches) != 1 or len(schema.get("anyOf", ())) != 2:
        return schema
    rest = {key: value for key, value in schema.items() if key not in ("anyOf", "default")}
    return {**rest, **branches[0]}


def openapi(max_size: int = ApiSettings.model_fields["api_max_size"].default) -> dict[str, Any]:
    """The OpenAPI 3.1 document, generated from the models that validate the parameters and the answers."""
    params = {path: params_model(route, max_size) for path, route in ROUTES.items()}
    answers = {route.answer for route in ROUTES.values()} | {ErrorAnswer}
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [(m, "validation") for m in params.values()]
    models += [(m, "serialization") for m in answers]
    _, schemas = models_json_schema(models, ref_template="#/components/schemas/{model}")
    components = schemas.get("$defs", {})
    failure = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorAnswer"}}}
    paths = {}
    for path, route in ROUTES.items():
        model = components.pop(params[path].__name__)
        parameters = [
            {
                "name": name,
                "in": "path" if f"{{{name}}}" in path else "query",
                "required": f"{{{name}}}" in path or name in model.get("required", ()),
                "description": schema.pop("description", ""),
                "schema": query_schema(schema),
            }
            for name, schema in model["properties"].items()
        ]
        answer = {"application/json": {"schema": {"$ref": f"#/components/schemas/{route.answer.__name__}"}}}
        responses = {
            "200": {"description": "the answer", "content": answer},
            "400": {"description": "a parameter the API cannot use, with the reason", "content": failure},
            "503": {"description": "Elasticsearch is unavailable; try again", "content": failure},
        }
        paths[path] = {"get": {"summary": route.summary, "parameters": parameters, "responses": responses}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "newsflow analyst API", "version": version("newsflow-analyst")},
        "paths": paths,
        "components": {"schemas": components},
    }


def make_api(client: AsyncElasticsearch, settings: ApiSettings, health: Health) -> web.Application:
    """The API on top of the common /healthz and /metrics."""
    app = make_app(health)
    app[CLIENT] = client
    app[SETTINGS] = settings
    for path, route in ROUTES.items():
        app.router.add_get(path, answering(route, params_model(route, settings.api_max_size)))
    document = openapi(settings.api_max_size)

    async def serve_openapi(_: web.Request) -> web.Response:
        return web.json_response(document)

    app.router.add_get("/openapi.json", serve_openapi)
    add_page(app)
    return app


PAGE = Path(__file__).parent / "page"
PAGE_POLICY = "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
"""The page reads only this API: no inline script, nothing from another origin (no Elasticsearch from the browser)."""


def add_page(app: web.Application) -> None:
    """The newsroom page at / and its files under /page/; plain files, no build step."""

    async def index(_: web.Request) -> web.StreamResponse:
        return web.FileResponse(PAGE / "index.html", headers={"Content-Type": "text/html"})

    app.router.add_get("/", index)
    app.router.add_static("/page/", PAGE)
    app.on_response_prepare.append(page_headers)


async def page_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path == "/" or request.path.startswith("/page/"):
        response.headers["Content-Security-Policy"] = PAGE_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"


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
