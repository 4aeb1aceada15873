"""tests/netlog.py on small net logs written here, shaped like Chromium 150's (no browser needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.netlog import NetLog, is_local_host, url_host

TYPES = ["REQUEST_ALIVE", "URL_REQUEST_START_JOB", "HOST_RESOLVER_MANAGER_REQUEST", "DNS_TRANSACTION",
         "SOCKET_POOL_CONNECT_JOB_CREATED", "SOCKET_ALIVE", "TCP_CONNECT", "UDP_CONNECT"]  # fmt: skip


def event(kind: str, source: int, **params: Any) -> dict[str, Any]:
    return {"type": TYPES.index(kind), "source": {"id": source, "type": 1}, "phase": 1, "params": params}


def request(source: int, url: str, initiator: str, request_type: str = "other") -> list[dict[str, Any]]:
    return [event("REQUEST_ALIVE", source, url=url, traffic_annotation=1),
            event("URL_REQUEST_START_JOB", source, url=url, initiator=initiator, request_type=request_type,
                  network_isolation_key="http://127.0.0.1 http://127.0.0.1")]  # fmt: skip


def write(path: Path, events: list[dict[str, Any]], cut: bool = False) -> Path:
    text = json.dumps({"constants": {"logEventTypes": {k: i for i, k in enumerate(TYPES)}}, "events": events})
    path.write_text(text[: text.rindex("]")] + ",\n" if cut else text, encoding="utf-8")  # cut: as a crash leaves it
    return path


PAGE = "http://127.0.0.1:8000"
# Chromium's own: the sign-in service's account list (no initiator, not a navigation), its DNS and connection.
GAIA = "https://accounts.google.com"
OWN = [*request(1, f"{GAIA}/ListAccounts", "not an origin"),
       event("HOST_RESOLVER_MANAGER_REQUEST", 2, host=GAIA),
       event("DNS_TRANSACTION", 3, hostname="accounts.google.com"),
       event("SOCKET_POOL_CONNECT_JOB_CREATED", 4, group_id=f"{GAIA} <https://google.com same_site>"),
       event("SOCKET_ALIVE", 5, source_dependency={"id": 4, "type": 6}),
       event("TCP_CONNECT", 5, address_list=["142.250.1.1:443"]),
       event("UDP_CONNECT", 6, address="[2001:4860:4860::8888]:443")]  # fmt: skip
# A page of the book: its navigation (started by the test, so without initiator) and a local script.
BOOK = [*request(10, f"{PAGE}/intro.html", "not an origin", "main frame"),
        *request(11, f"{PAGE}/_static/x.js", PAGE),
        event("SOCKET_POOL_CONNECT_JOB_CREATED", 12, group_id=f"{PAGE} <http://127.0.0.1 same_site>"),
        event("SOCKET_ALIVE", 13, source_dependency={"id": 12, "type": 6}),
        event("TCP_CONNECT", 13, address_list=["127.0.0.1:8000"], remote_address="127.0.0.1:8000")]  # fmt: skip


@pytest.mark.parametrize(
    ("host", "local"),
    [("127.0.0.1", True), ("127.0.0.1:8000", True), ("localhost", True), ("[::1]:80", True), ("::1", True),
     ("127.0.0.2", False), ("10.0.0.1:53", False), ("cdn.example.org", False), ("localhost.example.org", False)],
)  # fmt: skip
def test_local_hosts(host: str, local: bool) -> None:
    assert is_local_host(host) is local


def test_url_host() -> None:
    assert url_host("https://CDN.example.org:8443/x.js") == "cdn.example.org"
    assert url_host("data:image/png;base64,AAAA") is None
    assert url_host("blob:http://127.0.0.1/uuid") is None


def test_the_browsers_own_traffic_and_the_book_pass(tmp_path: Path) -> None:
    log = NetLog.read(write(tmp_path / "log.json", OWN + BOOK))
    assert log.browsers_own_hosts() == {"accounts.google.com"}
    assert [r.urls for r in log.page_requests()] == [[f"{PAGE}/intro.html"], [f"{PAGE}/_static/x.js"]]
    assert log.offenders() == []


def test_a_page_request_to_a_cdn_and_its_traffic_are_flagged(tmp_path: Path) -> None:
    cdn = [*request(20, "https://cdn.example.org/x.js", PAGE),
           event("HOST_RESOLVER_MANAGER_REQUEST", 21, host="https://cdn.example.org"),
           event("DNS_TRANSACTION", 22, hostname="cdn.example.org"),
           event("SOCKET_POOL_CONNECT_JOB_CREATED", 23, group_id="pm/https://cdn.example.org <http://127.0.0.1 x>"),
           event("SOCKET_ALIVE", 24, source_dependency={"id": 23, "type": 6}),
           event("TCP_CONNECT", 24, address_list=["93.184.216.34:443"])]  # fmt: skip
    offenders = NetLog.read(write(tmp_path / "log.json", OWN + BOOK + cdn)).offenders()
    assert offenders == sorted([
        f"request to https://cdn.example.org/x.js (initiator {PAGE})", "host resolution cdn.example.org",
        "DNS query cdn.example.org", "connection cdn.example.org",
        "TCP connect 93.184.216.34:443 (connecting to cdn.example.org)"])  # fmt: skip


def test_a_dns_prefetch_without_a_request_is_flagged(tmp_path: Path) -> None:
    # a lookup of a host that no request of the browser's own went to (e.g. <link rel="dns-prefetch">)
    log = NetLog.read(write(tmp_path / "log.json", [*OWN, event("DNS_TRANSACTION", 30, hostname="fonts.example.net")]))
    assert log.offenders() == ["DNS query fonts.example.net"]


def test_a_log_cut_short_is_still_read(tmp_path: Path) -> None:
    events = [*BOOK, *request(40, "https://cdn.example.org/y.js", PAGE)]
    log = NetLog.read(write(tmp_path / "log.json", events, cut=True))
    assert log.offenders() == [f"request to https://cdn.example.org/y.js (initiator {PAGE})"]
