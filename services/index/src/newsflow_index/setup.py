"""``newsflow-es-setup``: component and index templates, the first indices and aliases; safe to run twice.

It says what it changed: a template is put only when its version differs from the installed one, an
index is created only when missing. Articles get this month's index (it joins the read alias through
its template); trends get ``news-trends-000001`` as the write index of ``news-trends``.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from typing import Any

from elasticsearch import AsyncElasticsearch

from newsflow_common import es
from newsflow_common.cli import parse_command_line
from newsflow_common.logs import configure_logging, get_logger
from newsflow_common.retry import retry_forever
from newsflow_common.settings import Settings
from newsflow_index.mappings import ARTICLE_PROPERTIES, TREND_PROPERTIES, component_templates, index_template
from newsflow_index.routing import month_index

log = get_logger(__name__)


async def installed_version(client: AsyncElasticsearch, kind: str, name: str) -> int | None:
    """The version of an installed component (``kind="component"``) or index template; None when absent."""
    if kind == "component":
        found = await client.options(ignore_status=404).cluster.get_component_template(name=name)
        items = found.body.get("component_templates", []) if found.meta.status == 200 else []
        return items[0]["component_template"].get("version") if items else None
    found = await client.options(ignore_status=404).indices.get_index_template(name=name)
    items = found.body.get("index_templates", []) if found.meta.status == 200 else []
    return items[0]["index_template"].get("version") if items else None


async def ensure_templates(
    client: AsyncElasticsearch, alias: str, properties: dict[str, Any], *, read_alias: bool
) -> list[str]:
    """Component templates first (the index template refers to them), then the index template."""
    changed = []
    for name, body in component_templates(alias, properties).items():
        if await installed_version(client, "component", name) != body["version"]:
            await client.cluster.put_component_template(name=name, **body)
            changed.append(f"component template {name} v{body['version']}")
    template = index_template(alias, read_alias=read_alias)
    if await installed_version(client, "index", alias) != template["version"]:
        await client.indices.put_index_template(name=alias, **template)
        changed.append(f"index template {alias} v{template['version']}")
    return changed


async def ensure_index(client: AsyncElasticsearch, index: str, aliases: dict[str, Any] | None = None) -> list[str]:
    if (await client.indices.exists(index=index)).body:
        return []
    await client.indices.create(index=index, aliases=aliases)
    return [f"index {index}"]


async def ensure_all(client: AsyncElasticsearch, settings: Settings) -> list[str]:
    articles, trends = settings.articles_alias, settings.trends_alias
    changed = await ensure_templates(client, articles, ARTICLE_PROPERTIES, read_alias=True)
    changed += await ensure_templates(client, trends, TREND_PROPERTIES, read_alias=False)
    changed += await ensure_index(client, month_index(articles, datetime.now(UTC)))  # so the alias exists
    if not (await client.indices.exists_alias(name=trends)).body:
        changed += await ensure_index(client, f"{trends}-000001", {trends: {"is_write_index": True}})
    return changed


async def setup(settings: Settings) -> list[str]:
    client = es.client(settings)
    try:
        return await retry_forever(
            lambda: ensure_all(client, settings), transient=es.is_transient_es_error, service="es-setup", name="setup"
        )
    finally:
        await client.close()


def main(argv: list[str] | None = None, prog: str = "newsflow-es-setup") -> int:
    settings = parse_command_line(prog, __doc__ or "", Settings, "newsflow-index", argv)
    configure_logging("es-setup", settings.log_level)
    changed = asyncio.run(setup(settings))
    log.info("elasticsearch ready", changed=changed or "nothing: already up to date")
    print("\n".join(f"changed: {line}" for line in changed) or "nothing changed: already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
