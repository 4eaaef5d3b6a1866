"""The parse stage: one raw document in, its article(s) out."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from newsflow_common.stage import Stage
from newsflow_parse.extract import extract
from newsflow_schemas import ARTICLES, RAW, Message, RawDocument


class ParseStage(Stage[RawDocument]):
    service = "parse"
    input_topic = RAW

    @property
    def input_model(self) -> type[RawDocument]:
        return RawDocument

    async def transform(self, message: RawDocument) -> Sequence[tuple[str, Message]]:
        # Extraction is CPU work: off the event loop, so heartbeats and health keep answering.
        articles = await asyncio.get_running_loop().run_in_executor(None, extract, message)
        return [(ARTICLES, article) for article in articles]
