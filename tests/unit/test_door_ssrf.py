"""The SSRF door: every spelling of an inside address is refused before any connection, on every hop.

A listener on 127.0.0.1 counts the connections it accepts: for a refused URL it must count none. The
spellings are the ones the HTTP client (yarl) or the system resolver turn into the same address:
full-width digits and dots, ideographic full stops, circled digits, decimal/octal/hex IPv4, short
forms, IPv4-mapped IPv6 and trailing dots.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsflow_ingest.fetch import PAGE_TYPES, Fetcher, FetchError
from newsflow_ingest.settings import IngestSettings
from newsflow_ingest.ssrf import Forbidden, Guard, parse_allow

FULLWIDTH = str.maketrans("0123456789.", "０１２３４５６７８９．")
CIRCLED = str.maketrans("0123456789", "⓪①②③④⑤⑥⑦⑧⑨")
DOTS = ("。", "．", "｡")  # ideographic, full-width and half-width ideographic full stops


class Listener:
    """A TCP port on 127.0.0.1 that counts the connections made to it."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.running = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while self.running:
            try:
                connection, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            connection.close()

    def close(self) -> None:
        self.running = False
        self.thread.join()
        self.sock.close()


class Redirector(BaseHTTPRequestHandler):
    """GET /to?u=URL answers 302 to URL: an allowed host sending the fetcher elsewhere."""

    def do_GET(self) -> None:
        target = parse_qs(urlsplit(self.path).query).get("u", [""])[0]
        # Raw UTF-8, as servers send it (send_header would insist on latin-1).
        self.wfile.write(b"HTTP/1.1 302 Found\r\nLocation: " + target.encode() + b"\r\nContent-Length: 0\r\n\r\n")
        self.close_connection = True

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    listening = Listener()
    yield listening
    listening.close()


@pytest.fixture(scope="module")
def redirector() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def spellings(address: str) -> st.SearchStrategy[str]:
    """Hosts that the client or the resolver read as ``address`` (IPv4)."""
    ip = ipaddress.IPv4Address(address)
    parts = address.split(".")
    number = int(ip)
    return st.sampled_from(
        [
            address,
            address + ".",
            address.translate(FULLWIDTH),
            address.translate(CIRCLED),
            *(dot.join(parts) for dot in DOTS),
            str(number),
            hex(number),
            ".".join(f"0{int(part):o}" for part in parts),
            ".".join(hex(int(part)) for part in parts),
            f"{parts[0]}.{number & 0xFFFFFF}",  # a.b24
            f"[::ffff:{address}]",
            f"[::ffff:{number >> 16:x}:{number & 0xFFFF:x}]",
            f"[0:0:0:0:0:ffff:{address}]",
        ]
    )


INSIDE = st.sampled_from(["127.0.0.1", "10.0.0.1", "192.168.1.1", "172.16.0.1", "169.254.169.254", "169.254.1.1"])
LOOPBACK_HOSTS = spellings("127.0.0.1")
IPV6_INSIDE = st.sampled_from(
    [
        "[::1]",
        "[0:0:0:0:0:0:0:1]",
        "[::ffff:7f00:1]",
        "[::127.0.0.1]",
        "[fe80::1]",
        "[fe80::1%25eth0]",
        "[fd00:ec2::254]",
        "[fc00::1]",
        "[fec0::1]",
        "[::ffff:a9fe:a9fe]",
        "[64:ff9b::a9fe:a9fe]",
        "[::]",
    ]
)
INSIDE_HOSTS = st.one_of(INSIDE.flatmap(spellings), IPV6_INSIDE)
EXAMPLES = settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def fetch_settings(**overrides: Any) -> IngestSettings:
    values: dict[str, Any] = {
        "fetch_timeout_seconds": 2.0,
        "host_delay_seconds": 0.0,
        "fetch_attempts": 1,
        "respect_robots": False,
        **overrides,
    }
    return IngestSettings(**values)


def fetch_error(url: str, allow: str = "") -> FetchError:
    async def attempt() -> FetchError:
        fetcher = Fetcher(fetch_settings(fetch_allow=allow))
        try:
            await fetcher.fetch(url, PAGE_TYPES)
        except FetchError as exc:
            return exc
        finally:
            await fetcher.close()
        raise AssertionError(f"{url} was fetched")

    return asyncio.run(attempt())


@EXAMPLES
@given(host=LOOPBACK_HOSTS)
def test_every_spelling_of_loopback_is_refused_without_a_connection(listener: Listener, host: str) -> None:
    before = listener.accepted
    error = fetch_error(f"http://{host}:{listener.port}/feed.xml")
    assert error.kind == "ssrf", error
    assert listener.accepted == before


@EXAMPLES
@given(host=INSIDE_HOSTS)
def test_every_spelling_of_an_inside_address_is_refused_before_connecting(host: str) -> None:
    error = fetch_error(f"http://{host}/latest/meta-data/")
    assert error.kind == "ssrf", error
    assert "a " in str(error)  # says which kind of address: "a loopback address"...


@EXAMPLES
@given(host=LOOPBACK_HOSTS)
def test_a_redirect_to_any_spelling_of_loopback_is_refused(listener: Listener, redirector: int, host: str) -> None:
    """Only the redirector's port is allowed: allowing one local service must not open the others."""
    before = listener.accepted
    target = quote(f"http://{host}:{listener.port}/metrics", safe="")
    error = fetch_error(f"http://127.0.0.1:{redirector}/to?u={target}", allow=f"127.0.0.1:{redirector}")
    assert error.kind == "ssrf", error
    assert listener.accepted == before


@EXAMPLES
@given(host=INSIDE_HOSTS)
def test_a_redirect_to_any_spelling_of_an_inside_address_is_refused(redirector: int, host: str) -> None:
    target = quote(f"http://{host}/latest/meta-data/", safe="")
    error = fetch_error(f"http://127.0.0.1:{redirector}/to?u={target}", allow=f"127.0.0.1:{redirector}")
    assert error.kind == "ssrf", error


def test_allowing_one_local_address_does_not_allow_its_neighbour(redirector: int) -> None:
    """127.0.0.1 is allowed on the redirector's port; a redirect to １２７.０.０.２ on the same port is not."""
    target = quote(f"http://１２７.０.０.２:{redirector}/", safe="")
    error = fetch_error(f"http://127.0.0.1:{redirector}/to?u={target}", allow=f"127.0.0.1:{redirector}")
    assert (error.kind, "127.0.0.2" in str(error)) == ("ssrf", True)


def test_allowing_one_local_port_allows_that_port_only(listener: Listener, redirector: int) -> None:
    guard = Guard(parse_allow(f"127.0.0.1:{redirector}, 10.0.0.0/8:443, [::1]:8080"))
    guard.check_url(f"http://127.0.0.1:{redirector}/feed")
    guard.check_url("https://10.1.2.3/page")
    guard.check_url("http://[::1]:8080/")
    for url in (f"http://127.0.0.1:{listener.port}/", "http://10.1.2.3/page", "http://[::1]:8081/"):
        with pytest.raises(Forbidden):
            guard.check_url(url)


def test_a_host_name_in_the_allow_list_allows_its_addresses_on_that_port(listener: Listener) -> None:
    guard = Guard(parse_allow(f"localhost:{listener.port}"))
    guard.check_address("localhost", "127.0.0.1", listener.port)
    with pytest.raises(Forbidden):
        guard.check_address("localhost", "127.0.0.1", listener.port + 1)
    with pytest.raises(ValueError, match="resolves"):
        parse_allow("no-such-host.invalid:80")


def test_an_allow_entry_without_a_port_is_refused_with_the_way_to_write_it() -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1:PORT"):
        parse_allow("127.0.0.1")
    assert parse_allow("127.0.0.1:*")[0].port is None  # every port: said explicitly


def test_the_setting_is_checked_when_the_service_starts() -> None:
    with pytest.raises(ValueError, match="PORT"):
        IngestSettings(fetch_allow="10.0.0.0/8")


@pytest.mark.parametrize(
    "url", ["urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66", "tag:example.com,2024:1", "mailto:a@b"]
)
def test_identifiers_are_not_urls_to_fetch_and_not_counted_as_ssrf(url: str) -> None:
    assert fetch_error(url).kind == "not-a-url"


@pytest.mark.parametrize(
    "url", ["http://[::1/x", "http://ex＃ample.com/", "http://[::1", "http://xn--/", "http:///path", "http://a b/"]
)
def test_a_malformed_url_is_refused_with_a_reason(url: str) -> None:
    error = fetch_error(url)
    assert error.kind == "malformed-url", error
    assert str(error)


def test_a_redirect_to_a_malformed_url_is_refused_with_a_reason(redirector: int) -> None:
    error = fetch_error(
        f"http://127.0.0.1:{redirector}/to?u=http%3A%2F%2F%5B%3A%3A1%2Fx", allow=f"127.0.0.1:{redirector}"
    )
    assert error.kind == "malformed-url", error


def test_the_connection_itself_is_checked(listener: Listener) -> None:
    """Whatever the resolver said, the socket is opened only towards an address the guard admits."""
    guard = Guard([])
    addr_info: tuple[Any, ...] = (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", listener.port))
    open_socket: Callable[..., socket.socket] = guard.open_socket
    with pytest.raises(Forbidden):
        open_socket(addr_info)


def test_a_link_with_a_malformed_url_is_rejected_with_its_reason_even_with_a_summary() -> None:
    """What the links consumer dead-letters: a Rejected with the reason, not a ValueError that stops it."""
    from newsflow_common.dlq import Rejected
    from newsflow_ingest.ingestor import Ingestor
    from newsflow_ingest.pages import PageIngest
    from newsflow_schemas import SourceHints

    class Producer:
        async def send_and_wait(self, *args: Any, **kwargs: Any) -> None:
            pass

    async def attempt() -> Rejected:
        fetcher = Fetcher(fetch_settings())
        pages = PageIngest(fetcher, Ingestor(fetch_settings(), Producer()))  # type: ignore[arg-type]
        try:
            await pages.ingest_url("http://[::1/x", source="links", hints=SourceHints(summary="A summary."))
        except Rejected as exc:
            return exc
        finally:
            await fetcher.close()
        raise AssertionError("sent")

    assert asyncio.run(attempt()).kind == "malformed-url"
