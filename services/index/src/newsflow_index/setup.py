"""``newsflow-es-setup``: index templates and aliases for articles and trends; safe to run twice."""

from __future__ import annotations

import asyncio
from typing import Any

from elasticsearch import AsyncElasticsearch

from newsflow_common.logs import configure_logging, get_logger
from newsflow_common.retry import retry_forever
from newsflow_index import es
from newsflow_index.mappings import ARTICLE_PROPERTIES, TREND_PROPERTIES, index_template
from newsflow_index.settings import IndexSettings

log = get_logger(__name__)


async def ensure_alias(client: AsyncElasticsearch, alias: str, properties: dict[str, Any]) -> list[str]:
    """Put the template, and create the first index behind ``alias`` unless it exists; returns what changed."""
    changed = []
    template = index_template(alias, properties)
    current = await client.options(ignore_status=404).indices.get_index_template(name=alias)
    existing = current.body.get("index_templates", []) if current.meta.status == 200 else []
    if not existing or existing[0]["index_template"].get("version") != template["version"]:
        await client.indices.put_index_template(name=alias, **template)
        changed.append(f"template {alias} v{template['version']}")
    if not (await client.indices.exists_alias(name=alias)).body:
        await client.indices.create(index=f"{alias}-000001", aliases={alias: {"is_write_index": True}})
        changed.append(f"index {alias}-000001 with alias {alias}")
    return changed


async def setup(settings: IndexSettings) -> list[str]:
    client = es.client(settings)
    try:

        async def both() -> list[str]:
            articles = await ensure_alias(client, settings.articles_alias, ARTICLE_PROPERTIES)
            return articles + await ensure_alias(client, settings.trends_alias, TREND_PROPERTIES)

        return await retry_forever(both, transient=es.is_transient_es_error, service="es-setup", name="setup")
    finally:
        await client.close()


def main() -> None:
    settings = IndexSettings()
    configure_logging("es-setup", settings.log_level)
    changed = asyncio.run(setup(settings))
    log.info("elasticsearch ready", changed=changed or "nothing: already up to date")


if __name__ == "__main__":
    main()
