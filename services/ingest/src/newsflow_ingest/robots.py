"""robots.txt, read once per host and matched as RFC 9309 says (protego: longest match wins, `*` and `$`).

One reading serves every poller: callers arriving while a host's robots.txt is being read wait for
that reading instead of starting their own. What an answer means follows RFC 9309 section 2.3.1:

- 2xx: the rules, kept ``ttl`` seconds (the RFC asks for no more than 24 hours);
- 4xx (401 and 403 included): there are no rules, everything is allowed;
- 5xx, 429, a timeout, no connection: the host is unreachable, everything is disallowed, and this is
  remembered for ``error_ttl`` seconds, so a host in trouble is not asked again for every page.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from protego import Protego

from newsflow_common.logs import get_logger

if TYPE_CHECKING:
    from newsflow_ingest.fetch import Page

ROBOTS_TTL_SECONDS = 3600.0
ROBOTS_ERROR_TTL_SECONDS = 600.0
log = get_logger(__name__)

GetRobots = Callable[[str], Awaitable["Page | None"]]
"""One unguarded-by-robots GET of a robots.txt URL; raises FetchError (fetch.py) when it fails."""


@dataclass(frozen=True)
class Rules:
    """A host's answer: its parsed rules, or everything allowed (``rules is None and allow_all``) or not."""

    rules: Protego | None
    allow_all: bool
    expires: float

    def allows(self, url: str, user_agent: str) -> bool:
        return bool(self.rules.can_fetch(url, user_agent)) if self.rules is not None else self.allow_all


class Robots:
    """Per-origin robots.txt cache with single-flight reads."""

    def __init__(
        self,
        get: GetRobots,
        user_agent: str,
        ttl: float = ROBOTS_TTL_SECONDS,
        error_ttl: float = ROBOTS_ERROR_TTL_SECONDS,
    ) -> None:
        self.get = get
        self.user_agent = user_agent
        self.ttl = ttl
        self.error_ttl = error_ttl
        self.clock: Callable[[], float] = time.monotonic
        self._rules: dict[str, Rules] = {}
        self._reading: dict[str, asyncio.Lock] = {}

    async def allows(self, url: str) -> bool:
        """Whether the host's robots.txt lets our user agent fetch ``url``."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        async with self._reading.setdefault(origin, asyncio.Lock()):  # one reading per host at a time
            rules = self._rules.get(origin)
            if rules is None or self.clock() >= rules.expires:
                rules = self._rules[origin] = await self._read(origin)
        return rules.allows(url, self.user_agent)

    async def _read(self, origin: str) -> Rules:
        from newsflow_ingest.fetch import FetchError  # fetch.py imports this module

        try:
            page = await self.get(f"{origin}/robots.txt")
        except FetchError as exc:
            if exc.transient:  # 5xx, 429, timeout, connection: unreachable, so complete disallow
                log.warning("robots.txt unreachable, host disallowed for a while", origin=origin, error=str(exc))
                return Rules(None, allow_all=False, expires=self.clock() + self.error_ttl)
            return Rules(None, allow_all=True, expires=self.clock() + self.ttl)  # 4xx and the like: no rules
        text = (page.body if page else b"").decode("utf-8", "replace")
        return Rules(Protego.parse(text), allow_all=True, expires=self.clock() + self.ttl)
