"""The links stage: article URLs parse found on listing pages (news.links.v1), each fetched like a feed item.

It runs on the runtime inside the ingest service: a batch's links are fetched concurrently (the Fetcher
keeps each host polite), each page is sent to news.raw.v1 and acknowledged before the batch is committed.
A link that is not a valid LinkToFetch, or that cannot be fetched and has no summary to send instead, goes
to news.links.v1.dlq with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from newsflow_common.stage import Outputs, Stage
from newsflow_ingest.ingestor import SERVICE
from newsflow_ingest.pages import PageIngest
from newsflow_schemas import LINKS, LinkToFetch, Message


class LinksStage(Stage[LinkToFetch]):
    name = SERVICE
    inputs: ClassVar[Mapping[str, type[Message]]] = {LINKS: LinkToFetch}
    batch_size = 64

    def __init__(self, pages: PageIngest) -> None:
        self.pages = pages

    async def transform_one(self, message: LinkToFetch) -> Outputs:
        """Fetch the page and send it (the send is acknowledged here, before the commit)."""
        await self.pages.ingest_url(
            message.url,
            source=message.source,
            hints=message.hints,
            found_on=message.found_on,
            trace_id=message.trace_id,
        )
        return []
