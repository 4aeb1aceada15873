"""Read Chromium's net log (``--log-net-log=FILE``) and list the traffic that left the machine.

The net log is JSON: ``constants`` (which maps the numbers in each event to names) and ``events``, each
with a ``type``, a ``source`` (``id``, ``type``) that groups the events of one URL request, socket, DNS
transaction, ..., and ``params``. Chromium writes the closing brackets only when it exits, so a log cut
short by a crash is completed before it is parsed.

What counts as leaving the machine: a URL request, a host name resolved, a DNS query sent, a connection
opened or a TCP connect to anything other than 127.0.0.1, ``localhost`` or ``::1``.

What is ignored, **the browser's own background services**, and how they are recognised (from the net
logs of Chromium 150 here): even with ``--disable-background-networking`` Chromium asks
``accounts.google.com/ListAccounts`` for signed-in accounts (traffic annotation 35565745),
``android.clients.google.com/checkin`` for push messaging (65957842), and, on a page with a form (the
search box), ``content-autofill.googleapis.com`` for autofill predictions (88863520, keyed by the page's
site). None of them is started by a document: ``URL_REQUEST_START_JOB`` says ``"initiator": "not an
origin"`` and ``"request_type": "other"``. Every request a page makes names the page's origin as its
initiator (scripts, styles, images, fonts, ``fetch``, the favicon: annotations 101845102 and 112189210,
and the navigations it starts by a link or a script); the only requests without an initiator that a
test causes are the navigations it starts itself, whose type is ``"main frame"`` (annotation 63171670).
So a URL request is the browser's own exactly when it has no initiator and is not a navigation. No host
is listed by name, and a page's request to a CDN, which carries the page's origin as initiator, is always
checked. Host resolutions, DNS queries and connections are then ignored only for the hosts of the
browser's own requests (a TCP connect, only when its connect job was for such a host). UDP "connects"
are not checked: they send nothing (Chromium uses them to probe which local address to use), DNS
queries are checked by the name queried, and QUIC is off (``--disable-quic``).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

LOCAL_NAMES = {"localhost", "localhost.", "127.0.0.1", "::1", "[::1]"}
# Schemes that never touch the network (a data: URL, a blob made by the page, Chromium's own pages).
FRAMES = {"main frame", "subframe"}  # the request types of navigations, as the net log writes them
NO_NETWORK = {"data", "blob", "about", "chrome", "chrome-error", "chrome-untrusted", "devtools", "file"}


def is_local_host(host: str) -> bool:
    """127.0.0.1, ``localhost`` or ``::1`` (with or without a port); any other host is off the machine."""
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:8000
        host = host[1 : host.index("]")] if "]" in host else host[1:]
    elif host.count(":") == 1:  # 127.0.0.1:8000
        host = host.rsplit(":", 1)[0]
    if host in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host) in (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))
    except ValueError:
        return False


def url_host(url: str) -> str | None:
    """The host a URL reaches over the network, or None for a scheme that never does (data:, blob:, ...)."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() in NO_NETWORK:
        return None
    return (parts.hostname or "").lower()


def _load(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8", errors="replace").rstrip()
    for ending in ("", "]}", "}]}", "]}\n"):  # a log cut short when the browser died: close it
        try:
            data: dict[str, Any] = json.loads(text.rstrip(",") + ending)
            return data
        except json.JSONDecodeError:
            continue
    raise ValueError(f"{path} is not a Chromium net log")


@dataclass
class Request:
    """One URL request of the log: every URL it went to (redirects included), who started it, its key."""

    urls: list[str] = field(default_factory=list)
    initiator: str | None = None
    request_type: str = ""
    annotation: int | None = None

    @property
    def browsers_own(self) -> bool:
        # Started by no document, and not a navigation (see the module's docstring).
        return self.initiator in (None, "", "not an origin", "null") and self.request_type not in FRAMES


@dataclass(frozen=True)
class Contact:
    """A host resolved, a DNS query, a connection or a TCP connect; ``via``: the connect job's host."""

    what: str
    target: str
    via: str | None = None

    def __str__(self) -> str:
        return f"{self.what} {self.target}" + (f" (connecting to {self.via})" if self.via else "")


@dataclass
class NetLog:
    """The parsed log: its URL requests, and every host or address that a lookup or a connection named."""

    requests: dict[int, Request]
    contacts: list[Contact]

    @classmethod
    def read(cls, path: Path) -> NetLog:
        data = _load(path)
        names = {v: k for k, v in data["constants"]["logEventTypes"].items()}
        requests: dict[int, Request] = defaultdict(Request)
        contacts: list[Contact] = []
        job_host: dict[int, str] = {}  # a connect job's source id -> the host it connects to
        socket_job: dict[int, int] = {}  # a socket's source id -> the connect job that created it
        for event in data["events"]:
            kind, params, source = names.get(event["type"], ""), event.get("params") or {}, event["source"]["id"]
            if not isinstance(params, dict):
                continue
            dependency = params.get("source_dependency")
            if kind == "SOCKET_ALIVE" and isinstance(dependency, dict):
                socket_job[source] = dependency["id"]
            if kind in ("REQUEST_ALIVE", "URL_REQUEST_START_JOB") and "url" in params:
                request = requests[source]
                if params["url"] not in request.urls:
                    request.urls.append(params["url"])
                request.annotation = params.get("traffic_annotation", request.annotation)
                if kind == "URL_REQUEST_START_JOB":
                    request.initiator = params.get("initiator")
                    request.request_type = params.get("request_type", "")
            elif kind in ("URL_REQUEST_REDIRECTED", "URL_REQUEST_REDIRECT_JOB") and "location" in params:
                requests[source].urls.append(params["location"])
            elif kind in ("HOST_RESOLVER_MANAGER_REQUEST", "HOST_RESOLVER_MANAGER_JOB") and "host" in params:
                contacts.append(Contact("host resolution", _host_of(params["host"])))
            elif kind == "DNS_TRANSACTION" and "hostname" in params:
                contacts.append(Contact("DNS query", params["hostname"].lower()))
            elif kind == "HTTP_STREAM_JOB" and "destination" in params:
                contacts.append(Contact("connection", _host_of(params["destination"])))
            elif kind == "SOCKET_POOL_CONNECT_JOB_CREATED" and "group_id" in params:
                # e.g. "pm/https://cdn.example.org <http://127.0.0.1 same_site>": the destination, then the key
                match = re.search(r"[a-z][\w+.-]*://[^\s<]+", params["group_id"])
                job_host[source] = _host_of(match.group(0) if match else params["group_id"].split(" <")[0])
                contacts.append(Contact("connection", job_host[source]))
            elif kind in ("TCP_CONNECT", "TCP_CONNECT_ATTEMPT"):
                via = job_host.get(socket_job.get(source, -1))
                for address in [*params.get("address_list", []), params.get("address"), params.get("remote_address")]:
                    if address:
                        contacts.append(Contact("TCP connect", str(address), via))
        return cls(dict(requests), contacts)

    def browsers_own_hosts(self) -> set[str]:
        return {h for r in self.requests.values() if r.browsers_own for u in r.urls if (h := url_host(u))}

    def page_requests(self) -> list[Request]:
        return [r for r in self.requests.values() if not r.browsers_own]

    def offenders(self) -> list[str]:
        """Everything in the log that left the machine and was not the browser's own (empty: all local)."""
        own = self.browsers_own_hosts()
        found = {f"request to {url} (initiator {r.initiator})"
                 for r in self.page_requests() for url in r.urls
                 if (host := url_host(url)) is not None and not is_local_host(host)}  # fmt: skip
        for contact in self.contacts:
            if not (is_local_host(contact.target) or contact.target in own or contact.via in own):
                found.add(str(contact))
        return sorted(found)


def _host_of(text: str) -> str:
    """The host of ``https://host:port``, ``host:port`` or ``host``."""
    text = text.strip()
    if "://" in text:
        return (urlsplit(text).hostname or "").lower()
    return text.lower()
