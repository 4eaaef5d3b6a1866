"""Found by the fault run (bench/chaos.py): topics must take the largest record newsflow produces.

A broker's default bound is 1 MB. A 20 MB poison that arrived compressed was dead-lettered with the first
4 MiB of its bytes (base64: 5.6 MB), the broker refused that dead letter, and index and ingest stopped on
the record they could not get past. Topics are now created with a bound above what the producers may send.
"""

from __future__ import annotations

import os

from newsflow_common.dlq import dead_letter
from newsflow_common.kafka import topic_configs
from newsflow_common.settings import Settings
from newsflow_schemas import encode, registry


def test_every_topic_takes_a_dead_letter_of_a_20_mb_original() -> None:
    settings = Settings()
    letter = dead_letter(original=os.urandom(20 * 1024 * 1024), stage="index", kind="schema", error="x", trace_id="t")
    size = len(encode(letter))
    assert size <= settings.kafka_max_request_bytes, "the producers themselves could not send it"
    for topic in registry().values():
        configs = topic_configs(settings, topic)
        assert int(configs["max.message.bytes"]) > size, topic.name
        assert configs["cleanup.policy"] == topic.cleanup_policy  # the registry's own configs are kept


def test_the_bound_follows_the_producers_setting() -> None:
    settings = Settings(kafka_max_request_bytes=50 * 1024 * 1024)
    topic = registry()["news.raw.v1"]
    assert int(topic_configs(settings, topic)["max.message.bytes"]) >= 50 * 1024 * 1024
