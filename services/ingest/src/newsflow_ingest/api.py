"""HTTP push API (aiohttp.web): POST /v1/documents, and its OpenAPI document at GET /openapi.json.

A request carries a JSON article, a JSON array of articles, or a raw HTML/text page with its URL and
source in headers (X-Newsflow-Url, X-Newsflow-Source) or the query (?url=&source=). Bearer-token auth.
202 answers with the ids once Kafka acknowledged every document; errors are JSON:
400 malformed, 401, 413 too large, 415 unsupported type, 422 invalid article, 503 Kafka away.
An article with a URL and no body is queued on news.links.v1 and fetched like any link.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
import uuid
import zlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from newsflow_common.dlq import Rejected
from newsflow_common.logs import get_logger
from newsflow_ingest.articles import ArticleIn, article_document, loads_bounded, validate_article
from newsflow_ingest.documents import decode_text, new_document, parse_content_type
from newsflow_ingest.ingestor import API_SOURCE, Ingestor
from newsflow_ingest.metrics import API_REQUESTS
from newsflow_ingest.ssrf import Forbidden, Guard, parse_url
from newsflow_schemas import LINKS, LinkToFetch, RawDocument

MAX_BATCH = 1000
SOURCE_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
"""A source name (matched whole): it becomes a label, a ledger key and a log field."""
PAGE_TYPES = {"text/html", "text/plain", "application/xhtml+xml"}
STATUS_OF_REFUSAL = {"too-large": 413, "binary": 415, "empty": 400, "encoding": 400}
SERVER_OPTIONS: dict[str, Any] = {"auto_decompress": False}
"""The handler inflates the body itself, after auth and with a cap: aiohttp would inflate any body as it
arrives, also the unread body of a refused request it drains (four 10 MB gzip bombs cost 11 s of CPU)."""
ENCODINGS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
log = get_logger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.error, self.details = status, error, details

    def response(self) -> web.Response:
        body: dict[str, Any] = {"error": self.error, "message": str(self)}
        if self.details is not None:
            body["details"] = self.details
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else None
        return web.json_response(body, status=self.status, headers=headers)


class PushApi:
    """The handlers; ``token`` None means auth is switched off (local use only)."""

    def __init__(
        self, ingestor: Ingestor, guard: Guard, token: str | None, max_request_bytes: int, send_timeout: float
    ) -> None:
        self.ingestor = ingestor
        self.guard = guard
        self.token = token
        self.max_request_bytes = max_request_bytes
        self.send_timeout = send_timeout
        self.max_document_bytes = ingestor.settings.max_document_bytes

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.max_request_bytes, middlewares=[self._errors_and_auth])
        app.router.add_post("/v1/documents", self.post_documents)
        app.router.add_get("/openapi.json", self.openapi)
        return app

    @web.middleware
    async def _errors_and_auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            if request.path.startswith("/v1/"):
                self._authenticate(request)
            response = await handler(request)
        except ApiError as exc:
            response = exc.response()
        except web.HTTPRequestEntityTooLarge:
            response = ApiError(413, "too-large", f"the body is over {self.max_request_bytes} bytes").response()
        except web.HTTPException as exc:  # 404, 405 from the router: JSON too
            response = ApiError(exc.status, "http", exc.reason).response()
        API_REQUESTS.labels(str(response.status)).inc()
        return response

    def _authenticate(self, request: web.Request) -> None:
        if self.token is None:
            return
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.token.encode()):
            raise ApiError(401, "unauthorized", "a valid 'Authorization: Bearer <token>' header is required")

    async def openapi(self, _: web.Request) -> web.Response:
        return web.json_response(OPENAPI)

    async def post_documents(self, request: web.Request) -> web.Response:
        if (request.content_length or 0) > self.max_request_bytes:
            raise ApiError(413, "too-large", f"the body is over {self.max_request_bytes} bytes")
        mime, charset = parse_content_type(request.headers.get("Content-Type"))
        source = self._param(request, "source") or API_SOURCE
        if not SOURCE_NAME.fullmatch(source):
            raise ApiError(
                400, "malformed", f"source {source[:80]!r} must be 1-64 ASCII letters, digits, '.', '_' or '-'"
            )
        body = self._inflate(await request.read(), request.headers.get("Content-Encoding", "identity"))
        if mime == "application/json":
            documents, links = self._json_documents(body, source)
        elif mime in PAGE_TYPES:
            documents, links = [self._page_document(body, mime, charset, source, self._param(request, "url"))], []
        else:
            raise ApiError(415, "unsupported-type", f"send application/json, text/html or text/plain, not {mime!r}")
        return await self._send(documents, links)

    def _inflate(self, body: bytes, encoding: str) -> bytes:
        """The body decoded from its Content-Encoding, refused as soon as it inflates past the request cap."""
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            return body
        if encoding not in ENCODINGS:
            raise ApiError(415, "unsupported-encoding", f"send gzip, deflate or no Content-Encoding, not {encoding!r}")
        limit, data, rest = self.max_request_bytes, b"", body
        try:
            while rest and len(data) <= limit:  # gzip may hold several members, one after the other
                inflater = zlib.decompressobj(ENCODINGS[encoding])
                data += inflater.decompress(rest, limit + 1 - len(data))
                if not inflater.eof and not inflater.unconsumed_tail:
                    raise ApiError(400, "malformed", f"the {encoding} body is cut short")
                rest = inflater.unused_data if inflater.eof else b""
        except zlib.error as exc:
            raise ApiError(400, "malformed", f"the body is not valid {encoding} data: {exc}") from exc
        if len(data) > limit:
            raise ApiError(413, "too-large", f"the body inflates to more than {limit} bytes")
        return data

    def _json_documents(self, body: bytes, source: str) -> tuple[list[RawDocument], list[LinkToFetch]]:
        try:
            value = loads_bounded(decode_text(body, "utf-8")[0])
        except Rejected as exc:
            raise ApiError(STATUS_OF_REFUSAL.get(exc.kind, 400), exc.kind, str(exc)) from exc
        except ValueError as exc:
            raise ApiError(400, "malformed", f"the body is not JSON: {exc}") from exc
        _no_lone_surrogates(value)
        values = value if isinstance(value, list) else [value]
        if not values or len(values) > MAX_BATCH:
            raise ApiError(400, "malformed", f"a batch holds 1 to {MAX_BATCH} articles")
        articles, problems = [], []
        for index, item in enumerate(values):
            try:
                articles.append(self._checked(validate_article(item)))
            except Rejected as exc:
                problems.append({"index": index, "problem": str(exc)})
        if problems:
            raise ApiError(422, "schema", "invalid article(s): nothing was sent", problems)
        documents, links = [], []
        for item, article in zip(values, articles, strict=True):
            if article.body:
                documents.append(self._article_document(item, article, source))
            else:
                links.append(_link(article, source))
        return documents, links

    def _checked(self, article: ArticleIn) -> ArticleIn:
        """An article needs a body, or a URL to fetch that the SSRF guard lets through."""
        if article.body:
            return article
        if not article.url:
            raise Rejected("schema", "body: an article needs a body, or a url to fetch")
        try:
            self.guard.check_url(article.url)
        except Forbidden as exc:
            raise Rejected(exc.kind, f"url: {exc}") from exc
        return article

    def _article_document(self, item: object, article: ArticleIn, source: str) -> RawDocument:
        try:
            json_text = json.dumps(item, ensure_ascii=False)
            return article_document(
                json_text,
                article,
                source=source,
                locator=article.url or "",
                uri="api:",
                max_bytes=self.max_document_bytes,
            )
        except Rejected as exc:
            raise ApiError(STATUS_OF_REFUSAL.get(exc.kind, 422), exc.kind, str(exc)) from exc

    def _page_document(self, body: bytes, mime: str, charset: str | None, source: str, url: str | None) -> RawDocument:
        if url is not None:
            try:
                parse_url(url)
            except Forbidden as exc:
                raise ApiError(400, "malformed", f"url must be an absolute http(s) URL: {exc}") from exc
        try:
            return new_document(
                body,
                source=source,
                locator=url or "api:",
                uri=url or "api:",
                url=url,
                content_type="text/html" if mime == "application/xhtml+xml" else mime,
                max_bytes=self.max_document_bytes,
                declared_charset=charset,
            )
        except Rejected as exc:
            raise ApiError(STATUS_OF_REFUSAL.get(exc.kind, 400), exc.kind, str(exc)) from exc

    async def _send(self, documents: list[RawDocument], links: list[LinkToFetch]) -> web.Response:
        """Everything acknowledged by Kafka within the timeout, or 503: the client may retry (ids are stable)."""

        async def send_all() -> list[bool]:
            for link in links:
                await self.ingestor.send(LINKS, link)
            return list(await asyncio.gather(*(self.ingestor.deliver(document) for document in documents)))

        try:
            sent = await asyncio.wait_for(send_all(), self.send_timeout)
        except Rejected as exc:  # too large for Kafka once encoded
            raise ApiError(STATUS_OF_REFUSAL.get(exc.kind, 422), exc.kind, str(exc)) from exc
        except TimeoutError as exc:
            raise ApiError(503, "unavailable", "Kafka did not acknowledge in time; retry later") from exc
        return web.json_response(
            {
                "ids": [document.doc_id for document in documents],
                "duplicates": [document.doc_id for document, new in zip(documents, sent, strict=True) if not new],
                "links": [link.url for link in links],
            },
            status=202,
        )

    @staticmethod
    def _param(request: web.Request, name: str) -> str | None:
        return request.headers.get(f"X-Newsflow-{name.capitalize()}") or request.query.get(name)


def _no_lone_surrogates(value: object) -> None:
    """JSON may escape half a surrogate pair ('\\ud800'): that is not text, and no UTF-8 carries it on."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ApiError(
            400, "encoding", f"a string holds a lone surrogate ({exc.object[exc.start : exc.end]!r})"
        ) from exc


def _link(article: ArticleIn, source: str) -> LinkToFetch:
    assert article.url is not None  # checked by PushApi._checked
    return LinkToFetch(
        trace_id=uuid.uuid4().hex, url=article.url, source=source, hints=article.hints(), found_at=datetime.now(UTC)
    )


async def start_api(api: PushApi, host: str, port: int) -> web.AppRunner:
    """Serve the API in the running loop; stop with ``await runner.cleanup()``."""
    runner = web.AppRunner(api.app(), access_log=None, **SERVER_OPTIONS)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("push API started", host=host, port=port)
    return runner


def _error(description: str) -> dict[str, Any]:
    schema = {"type": "object", "properties": {"error": {"type": "string"}, "message": {"type": "string"}}}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ARTICLE = {
    **ArticleIn.model_json_schema(),
    "anyOf": [{"required": ["title", "body"]}, {"required": ["url"]}],
    "description": "An article (title and body), or a url alone to be fetched. Dates: ISO 8601 or RFC 2822 strings.",
}
OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "newsflow ingest push API", "version": "1"},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {"Article": _ARTICLE},
    },
    "security": [{"bearer": []}],
    "paths": {
        "/v1/documents": {
            "post": {
                "summary": "Send a JSON article, a JSON array of articles, or a raw HTML/text page",
                "parameters": [
                    {
                        "name": "source",
                        "in": "query",
                        "schema": {"type": "string", "pattern": f"^{SOURCE_NAME.pattern}$"},
                        "description": "or X-Newsflow-Source; 1-64 ASCII letters, digits, '.', '_', '-' (default api)",
                    },
                    {"name": "url", "in": "query", "schema": {"type": "string"}, "description": "or X-Newsflow-Url"},
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "oneOf": [
                                    {"$ref": "#/components/schemas/Article"},
                                    {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Article"},
                                        "maxItems": MAX_BATCH,
                                    },
                                ]
                            }
                        },
                        "text/html": {"schema": {"type": "string"}},
                        "text/plain": {"schema": {"type": "string"}},
                    },
                },
                "responses": {
                    "202": {
                        "description": "Accepted: acknowledged by Kafka",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "ids": {"type": "array", "items": {"type": "string"}},
                                        "duplicates": {"type": "array", "items": {"type": "string"}},
                                        "links": {"type": "array", "items": {"type": "string"}},
                                    },
                                }
                            }
                        },
                    },
                    "400": _error(
                        "Malformed: not JSON, nested too deep, an empty body, not decodable text (a broken UTF-16"
                        " byte-order mark, a lone surrogate), bad gzip, a bad source or url"
                    ),
                    "401": _error("Missing or wrong bearer token"),
                    "413": _error("Over the size limit"),
                    "415": _error("Unsupported content type or encoding, or binary data (control characters)"),
                    "422": _error("An article does not match the schema"),
                    "503": _error("Kafka did not acknowledge in time"),
                },
            }
        }
    },
}
