"""The device side of sync: build operations, seal batches, talk to the server.

Used by the collaborator app on Android and by the tests, so it needs nothing but
the standard library and :mod:`a0core.envelope`: HTTP goes through ``urllib``,
behind a replaceable transport function.

Network trouble and overloaded servers (HTTP 5xx, 429) are retried with
exponential backoff and full jitter, so a whole village of phones coming back
online does not hammer the server in step. A refusal (HTTP 4xx) is not retried:
it raises :class:`RemoteError` with the server's code and messages.
"""

from __future__ import annotations

import contextlib
import email.utils
import http.client
import ipaddress
import json
import os
import random
import re
import ssl
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from a0core import collector
from a0core.clocks import unpack
from a0core.envelope import (
    DEFAULT_MAX_BYTES,
    HEADER_SERVER_TIME,
    DeviceKeys,
    ServerPublicKey,
    finalize_op,
    open_from_server,
    parse_envelope,
    seal_batch,
    sign_request,
    strict_loads,
    verify_receipt,
)
from a0core.errors import A0Error, refusal_words, warning_words
from a0core.hlc import HybridClock, wall_ms

ENROL_PATH = "/api/v1/devices/enrol"
ME_PATH = "/api/v1/devices/me"
BATCHES_PATH = "/api/v1/sync/batches"
PULL_PATH = "/api/v1/sync/pull"
OP_TYPES = frozenset({"upsert", "event", "distribution", "void", "delete", "report", "stock"})
DEFAULT_MAX_OPS = 500
# Changes a device asks for in one pull page: a village's first download (a few hundred
# households, about 1,100 changes in bench/load.py's areas) is one request, not two.
# Each request has a fixed cost on the server (check, statements, seal) and on the
# phone (verify, open), and under a month start's load that is a tenth of a download.
# A full page (about 1.2 MB of JSON, 230 KB sealed) still comes in under 20 s at
# 100 kbit/s (docs/protocol.md, "Pull").
PULL_PAGE = 2000
DEFAULT_TIMEOUT = 30.0
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
BATCH_FILE_SUFFIX = ".a0b"
_CODE_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_TIME_HEADER = HEADER_SERVER_TIME.lower()


# ----------------------------------------------------------------- operations


def make_op(seq: int, hlc: int, type: str, form: str, version: int, id: str,
            fields: Mapping[str, Any], base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """An outbox operation with its content hash (``operation.v1``).

    ``base`` is left out when ``None``: the hash covers exactly the keys present.
    """
    if type not in OP_TYPES:
        raise ValueError(f"unknown operation type {type!r}")
    if not (isinstance(seq, int) and seq >= 1 and isinstance(hlc, int) and hlc >= 0):
        raise ValueError("seq is an integer from 1, hlc a non-negative integer")
    op: dict[str, Any] = {"seq": seq, "hlc": hlc, "type": type, "form": form,
                          "version": version, "id": id, "fields": dict(fields)}
    if base is not None:
        op["base"] = {k: list(v) if isinstance(v, tuple) else v for k, v in base.items()}
    return finalize_op(op)


def batches_of(ops: Sequence[Mapping[str, Any]],
               max_ops: int = DEFAULT_MAX_OPS) -> list[list[Mapping[str, Any]]]:
    """Split ops (sorted by seq) into runs of consecutive seqs of at most ``max_ops``.

    A batch must hold consecutive sequence numbers; a gap (operations already
    acknowledged) starts a new batch.
    """
    runs: list[list[Mapping[str, Any]]] = []
    for op in sorted(ops, key=lambda o: o["seq"]):
        if runs and len(runs[-1]) < max_ops and runs[-1][-1]["seq"] + 1 == op["seq"]:
            runs[-1].append(op)
        else:
            runs.append([op])
    return runs


def schemas_used(ops: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """The header's ``schemas``: the highest version of each form in the batch."""
    used: dict[str, int] = {}
    for op in ops:
        form, version = op.get("form"), op.get("version")
        if isinstance(form, str) and isinstance(version, int):
            used[form] = max(version, used.get(form, 0))
    return used


class SealedBatch(NamedTuple):
    envelope: bytes
    header: dict[str, Any]


def seal(ops: Sequence[Mapping[str, Any]], *, device_id: str, keys: DeviceKeys,
         server_key: ServerPublicKey, hlc: int, batch_id: str | None = None) -> SealedBatch:
    """Seal consecutive ops into one batch under a fresh batch id (or the one given).

    Re-sending a batch that got no receipt may reuse its id: the server then
    answers with the receipt it kept.
    """
    envelope, header = seal_batch(ops, device_id=device_id, batch_id=batch_id or str(uuid.uuid4()),
                                  server_key=server_key, device_keys=keys, hlc=hlc,
                                  schemas=schemas_used(ops))
    return SealedBatch(envelope, header)


def batch_file_name(header: Mapping[str, Any]) -> str:
    """A name that tells commune staff whose operations a carried file holds."""
    first, last = header["seq"]
    device = re.sub(r"[^A-Za-z0-9-]", "", header["device"])[:12]
    return f"a0sync-{device}-{first:07d}-{last:07d}{BATCH_FILE_SUFFIX}"


def export_batch_file(path: str | os.PathLike[str], envelope_bytes: bytes) -> Path:
    """Write a batch file for hand carrying; a crash never leaves half a file at ``path``."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=BATCH_FILE_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(envelope_bytes)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return target


# ------------------------------------------------------------------- transport


class HttpResponse(NamedTuple):
    status: int
    headers: Mapping[str, str]
    body: bytes


class TransportError(Exception):
    """No answer came: safe to retry (all calls are idempotent).

    ``reached`` is true when the request left whole and the line broke while
    waiting for the answer: the server may have acted on it. False when it never
    got through (no route, refused, the connection or the sending failed).
    """

    def __init__(self, message: str = "", *, reached: bool = False) -> None:
        super().__init__(message)
        self.reached = reached


Transport = Callable[[str, str, Mapping[str, str], bytes | None, float], HttpResponse]


def urllib_transport(ssl_context: ssl.SSLContext | None = None,
                     max_response_bytes: int = MAX_RESPONSE_BYTES) -> Transport:
    """A transport on ``urllib``; certificates are always verified (pass a context
    with the right CA bundle where the platform has none, e.g. from ``certifi``)."""

    opener = urllib.request.build_opener(_NoRedirect(),
                                         urllib.request.HTTPSHandler(context=ssl_context))

    def send(method: str, url: str, headers: Mapping[str, str], body: bytes | None,
             timeout: float) -> HttpResponse:
        request = urllib.request.Request(url, data=body, headers=dict(headers), method=method)
        try:
            try:
                resp = opener.open(request, timeout=timeout)
            except urllib.error.HTTPError as error:
                resp = error  # a refusal is an answer, read like any other
            with resp:
                return HttpResponse(resp.status, dict(resp.headers.items()),
                                    _read_capped(resp, max_response_bytes))
        except urllib.error.URLError as error:  # urllib wraps what fails before the answer
            if isinstance(error.reason, ssl.SSLCertVerificationError):
                # not transient, and most often a phone whose date is wrong: say so at once
                raise A0Error("server_certificate_invalid") from error
            raise TransportError(str(error)) from error
        except (http.client.HTTPException, OSError) as error:  # waiting for the answer
            raise TransportError(str(error), reached=True) from error

    return send


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Never follow redirects: one could lead signed requests to plain HTTP or elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _read_capped(resp: Any, limit: int) -> bytes:
    data = resp.read(limit + 1)
    if len(data) > limit:
        raise A0Error("response_malformed")
    if getattr(resp, "length", None):
        # the line broke before the body's announced length: ``http.client`` hands on
        # what came (a worker killed while answering, a mobile line dropped). A broken
        # line, not a damaged answer: it is sent again (a batch's receipt is the same)
        raise http.client.IncompleteRead(data, resp.length)
    return data


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: wait uniform(0, min(cap, base·2ⁿ))."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1``. A server's ``Retry-After`` is a
        floor, and the wait is spread above it over as much again (or the backoff, when
        longer): phones told the same ``Retry-After`` by an outage do not all come back
        in the same second."""
        spread = min(self.max_delay, self.base_delay * 2 ** attempt)
        if retry_after is None:
            return self.rng.uniform(0, spread)
        low = min(self.max_delay, max(0.0, retry_after))
        return self.rng.uniform(low, min(self.max_delay, low + max(spread, low)))


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    with contextlib.suppress(TypeError, ValueError):
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    return None


class RemoteError(A0Error):
    """A refusal from the server, with its code and its (already filled) messages.

    The code may be newer than this app's catalogue: the server's words are shown (and
    without them a general sentence, :func:`~a0core.errors.refusal_words`).
    """

    def __init__(self, code: str, message_vi: str | None, message_en: str | None, *,
                 status: int, details: Mapping[str, Any] | None = None) -> None:
        self.code = code
        self.params = {}
        self.vi, self.en = refusal_words(code, message_vi, message_en)
        self.status = status
        self.details = dict(details or {})
        Exception.__init__(self, f"{code}: {self.en}")

    def to_dict(self) -> dict[str, Any]:
        return {**self.details, "code": self.code, "message_vi": self.vi, "message_en": self.en}


def refusal(response: HttpResponse) -> A0Error:
    """The error a non-2xx answer stands for."""
    try:
        error = strict_loads(response.body)["error"]
        code = error["code"]
        if not isinstance(code, str) or not _CODE_RE.match(code):
            raise ValueError("bad error code")
        message_vi, message_en = error.get("message_vi"), error.get("message_en")
        if not all(m is None or isinstance(m, str) for m in (message_vi, message_en)):
            raise ValueError("bad error messages")
    except (ValueError, TypeError, KeyError, RecursionError):
        return A0Error("server_response_unexpected", status=response.status)
    return RemoteError(code, message_vi, message_en, status=response.status, details=error)


def verdict_warnings(verdict: Mapping[str, Any]) -> list[dict[str, str]]:
    """What a verdict asks the collaborator to check on a record the server kept
    (``receipt.v1``: ``warnings``, under the code ``record_warnings``), each item with
    its code, field and messages in the server's words (the code may be newer than
    this app's catalogue: :func:`~a0core.errors.warning_words`, never the code alone).
    Items that are not such objects are left out."""
    items = verdict.get("warnings")
    out: list[dict[str, str]] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping) or not isinstance(item.get("code"), str) \
                or not _CODE_RE.match(item["code"]):
            continue
        said = [item.get(f"message_{lang}") for lang in ("vi", "en")]
        vi, en = warning_words(item["code"], *(w if isinstance(w, str) else None for w in said))
        out.append({"code": item["code"],
                    "field": item["field"] if isinstance(item.get("field"), str) else "",
                    "message_vi": vi, "message_en": en})
    return out


def _check_base_url(base_url: str, allow_insecure: bool) -> str:
    """Only HTTPS, except on this machine: enrolment hands out the server's keys."""
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme == "https" or allow_insecure:
        return base_url.rstrip("/")
    host = parts.hostname or ""
    loopback = host == "localhost"
    with contextlib.suppress(ValueError):
        loopback = loopback or ipaddress.ip_address(host).is_loopback
    if parts.scheme == "http" and loopback:
        return base_url.rstrip("/")
    raise A0Error("server_address_insecure")


class _Http:
    """Requests with retries, shared by enrolment and the enrolled client.

    ``server_time`` keeps the server's wall clock from its last answer (any status)
    beside this device's own at that moment: how the app tells whether its clock is
    sane again after a refusal for a clock ahead.
    """

    def __init__(self, base_url: str, *, timeout: float, transport: Transport | None,
                 retry: RetryPolicy | None, allow_insecure: bool,
                 now_ms: Callable[[], int] = wall_ms) -> None:
        self.base_url = _check_base_url(base_url, allow_insecure)
        self.timeout = timeout
        self.transport = transport or urllib_transport()
        self.retry = retry or RetryPolicy()
        self.now_ms = now_ms
        self.server_time: tuple[int, int] | None = None  # (server ms, device ms)

    def _note_time(self, headers: Mapping[str, str]) -> None:
        value = next((v for k, v in headers.items() if k.lower() == _TIME_HEADER), None)
        if value is not None and value.strip().isascii() and value.strip().isdigit():
            self.server_time = (int(value), self.now_ms())

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: Mapping[str, str] | None = None,
                sign: Callable[[], Mapping[str, str]] | None = None) -> HttpResponse:
        """Send until an answer that is not 5xx/429 arrives; raise a refusal for 4xx."""
        failure: A0Error = A0Error("network_unavailable")
        reached = False  # a request left whole at least once: the server may have acted
        retry_after: float | None = None
        for attempt in range(self.retry.attempts):
            if attempt:
                self.retry.sleep(self.retry.delay(attempt - 1, retry_after))
            retry_after = None
            all_headers = {"Accept": "application/json", **(headers or {}),
                           **(sign() if sign else {})}
            try:
                response = self.transport(method, self.base_url + path, all_headers, body,
                                          self.timeout)
            except TransportError as error:
                reached = reached or error.reached
                failure = A0Error("network_unavailable")
                continue
            self._note_time(response.headers)
            if response.status == 429 or 500 <= response.status <= 599:
                failure = A0Error("server_unavailable", status=response.status)
                retry_after = _retry_after(response.headers)
                continue
            if 200 <= response.status <= 299:
                return response
            raise refusal(response)
        raise A0Error("server_no_answer") if reached else failure


def _unpack_clocks(changes: list[Any]) -> None:
    """Each change's packed field clocks as ``{field: [hlc, device]}``, in place (a
    server that wrote them so already is read as it is). The fields of one stamp share
    one list: whoever reads a page replaces stamps, never changes one in place."""
    try:
        for change in changes:
            if change.get("clocks") is not None:
                change["clocks"] = unpack(change["clocks"], shared=True)
    except (AttributeError, TypeError, ValueError):
        raise A0Error("response_malformed") from None


def _json(response: HttpResponse) -> dict[str, Any]:
    try:
        doc = strict_loads(response.body)
    except (ValueError, RecursionError):
        raise A0Error("response_malformed") from None
    if not isinstance(doc, dict):
        raise A0Error("response_malformed")
    return doc


# ---------------------------------------------------------------------- client


class SyncClient:
    """An enrolled device talking to its server.

    ``server_key`` is the current server key; ``known_server_keys`` keeps every key
    seen, since a receipt for a batch sealed before a rotation is signed by the old
    one. Persist both after :meth:`pull`, which may bring a new current key.
    """

    def __init__(self, base_url: str, device_id: str, keys: DeviceKeys,
                 server_key: ServerPublicKey, timeout: float = DEFAULT_TIMEOUT, *,
                 known_server_keys: Iterable[ServerPublicKey] = (),
                 clock: HybridClock | None = None, transport: Transport | None = None,
                 retry: RetryPolicy | None = None, allow_insecure: bool = False) -> None:
        self.http = _Http(base_url, timeout=timeout, transport=transport, retry=retry,
                          allow_insecure=allow_insecure,
                          now_ms=clock.wall if clock is not None else wall_ms)
        self.device_id = device_id
        self.keys = keys
        self.server_key = server_key
        self.known_server_keys = {k.kid: k for k in known_server_keys}
        self.known_server_keys[server_key.kid] = server_key
        self.clock = clock

    @classmethod
    def enrol(cls, base_url: str, code: str, keys: DeviceKeys, label: str, hlc: int, *,
              timeout: float = DEFAULT_TIMEOUT, transport: Transport | None = None,
              retry: RetryPolicy | None = None, allow_insecure: bool = False) -> dict[str, Any]:
        """Enrol this device's public keys with a one-time code; returns ``enrol_response.v1``.

        Retrying is safe: the server answers the same request (same code, same keys)
        with the same response, so a lost answer does not burn the code.
        """
        http = _Http(base_url, timeout=timeout, transport=transport, retry=retry,
                     allow_insecure=allow_insecure)
        body = json.dumps({"code": code, "sign_public_key": keys.sign_public_key,
                           "box_public_key": keys.box_public_key, "label": label, "hlc": hlc},
                          ensure_ascii=False).encode("utf-8")
        doc = _json(http.request("POST", ENROL_PATH, body,
                                 {"Content-Type": "application/json; charset=utf-8"}))
        try:
            ServerPublicKey.from_dict(doc["server_key"])
            if not isinstance(doc["device_id"], str) or not doc["device_id"]:
                raise ValueError("no device id")
        except (KeyError, TypeError, ValueError):
            raise A0Error("response_malformed") from None
        return doc

    @classmethod
    def from_enrolment(cls, base_url: str, response: Mapping[str, Any], keys: DeviceKeys,
                       **options: Any) -> SyncClient:
        return cls(base_url, response["device_id"], keys,
                   ServerPublicKey.from_dict(response["server_key"]), **options)

    def seal(self, ops: Sequence[Mapping[str, Any]], *, batch_id: str | None = None) -> SealedBatch:
        """Seal ops to the current server key, stamped with this device's clock."""
        hlc = self.clock.now() if self.clock else 0
        return seal(ops, device_id=self.device_id, keys=self.keys, server_key=self.server_key,
                    hlc=hlc, batch_id=batch_id)

    def send_batch(self, envelope: bytes) -> dict[str, Any]:
        """Send a sealed batch; returns its receipt once its signature and ids check out."""
        header = parse_envelope(envelope, max_bytes=len(envelope)).header
        response = self.http.request("POST", BATCHES_PATH, envelope,
                                     {"Content-Type": "application/json"})
        receipt = verify_receipt(_json(response), self.known_server_keys)
        if receipt.get("batch") != header["batch"] or receipt.get("device") != self.device_id:
            raise A0Error("receipt_mismatch")
        self._observe(receipt.get("server_hlc"))
        return receipt

    def pull(self, cursor: int, limit: int = PULL_PAGE) -> dict[str, Any]:
        """One page of changes from ``cursor``; adopts the server key it announces.

        Field clocks are asked packed by stamp (half the page) and handed on as
        ``{field: [hlc, device]}``, the form the rest of the app reads."""
        kid = self.server_key.kid
        query = urllib.parse.urlencode({"cursor": int(cursor), "limit": int(limit), "kid": kid,
                                        "clocks": "packed"})
        path = f"{PULL_PATH}?{query}"
        response = self.http.request(
            "GET", path, sign=lambda: sign_request("GET", path, b"", self.keys,
                                                   device_id=self.device_id))
        with collector.paused():  # a page is bounded by ``limit``
            page = open_from_server(response.body, self.keys, {kid: self.server_key},
                                    device_id=self.device_id, max_bytes=4 * DEFAULT_MAX_BYTES)
            if not isinstance(page.get("changes"), list) \
                    or type(page.get("cursor")) is not int \
                    or not isinstance(page.get("more"), bool):
                raise A0Error("response_malformed")
            _unpack_clocks(page["changes"])
        if "server_key" in page:
            try:
                announced = ServerPublicKey.from_dict(page["server_key"])
            except (KeyError, TypeError, ValueError):
                raise A0Error("response_malformed") from None
            self.known_server_keys[announced.kid] = announced
            self.server_key = announced
        self._observe(page.get("server_hlc"))
        return page

    def status(self) -> dict[str, Any]:
        """The device's own status (``GET /devices/me``, signed): who and where it is,
        ``highest_contiguous_seq`` and the ranges of its operations that never arrived
        (``missing``); a revoked device gets ``device_revoked``."""
        doc = _json(self.http.request("GET", ME_PATH, sign=lambda: sign_request(
            "GET", ME_PATH, b"", self.keys, device_id=self.device_id)))
        if not isinstance(doc.get("missing", []), list):
            raise A0Error("response_malformed")
        self._observe(doc.get("server_hlc"))
        return doc

    def _observe(self, server_hlc: Any) -> None:
        if self.clock is not None and type(server_hlc) is int and server_hlc >= 0:
            self.clock.observe(server_hlc)
