"""Downloads done right: timeouts, bounded retries with backoff, size and checksum checks, paging.

``fetch()`` streams one URL to a temporary file beside the destination and renames it into place
only when every check passed: HTTP status, Content-Type (an HTML error page served instead of a
workbook, CSV or JSON is an error), maximum size, Content-Length against the bytes received and,
when known, the expected SHA-256. Timeouts, dropped connections, truncated bodies, 429 and 5xx
are retried a bounded number of times with exponential backoff (honouring ``Retry-After``);
other 4xx are not. Every error names the URL and what was expected.

``socrata_pages()`` pages a Socrata (datos.gov.co) resource with ``$limit``/``$offset`` and a
stable ``$order``, saving each page as a JSON file; it stops at a short or empty page and
detects a listing that never ends (always a full page, or the same page again).
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

log = logging.getLogger("sinfonia.ingest.http")

EXPECTED = {"xlsx": "an Excel workbook", "csv": "a CSV file", "json": "a JSON document", None: "a file"}
USER_AGENT = "sinfonia/0.1 (ESAP data pipeline)"


class DownloadError(RuntimeError):
    """A download that failed for good; the message names the URL and what was expected."""


class _Retryable(Exception):
    def __init__(self, reason: str, wait: float | None = None):
        super().__init__(reason)
        self.wait = wait


@dataclass(frozen=True)
class Policy:
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    retries: int = 4  # attempts after the first one
    backoff: float = 1.0  # first wait; doubles each attempt
    max_wait: float = 60.0  # cap on any single wait, Retry-After included
    max_bytes: int = 500 * 1024 * 1024
    chunk: int = 1 << 16
    progress_every: float = 5.0  # seconds between progress lines of a long download


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _looks_like_html(head: bytes) -> bool:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return start.startswith((b"<!doctype", b"<html", b"<head", b"<body"))


def _check_content(url: str, expect: str | None, content_type: str, head: bytes) -> None:
    what = EXPECTED.get(expect, expect)
    if expect is not None and ("text/html" in content_type.lower() or _looks_like_html(head)):
        raise DownloadError(
            f"{url}: expected {what} but the server sent an HTML page "
            f"(Content-Type {content_type or 'not given'}); probably an error or login page"
        )
    if expect == "xlsx" and head and not head.startswith(b"PK\x03\x04"):
        raise DownloadError(f"{url}: expected {what} (a ZIP container) but the body starts with {head[:16]!r}")


def _attempt(session: requests.Session, url: str, tmp: Path, params: dict | None,
             expect: str | None, policy: Policy) -> str:
    """One GET streamed to ``tmp``; returns the SHA-256. Raises _Retryable or DownloadError."""
    try:
        resp = session.get(url, params=params, stream=True,
                           timeout=(policy.connect_timeout, policy.read_timeout),
                           headers={"User-Agent": USER_AGENT})
    except requests.Timeout as exc:
        raise _Retryable(f"timed out ({type(exc).__name__})") from exc
    except requests.RequestException as exc:
        raise _Retryable(f"connection failed ({type(exc).__name__}: {exc})") from exc
    with resp:
        full = resp.url or url
        if resp.status_code == 429 or resp.status_code >= 500:
            raise _Retryable(f"HTTP {resp.status_code} {resp.reason}", retry_after(resp.headers.get("Retry-After")))
        if resp.status_code >= 400:
            raise DownloadError(f"{full}: HTTP {resp.status_code} {resp.reason}; "
                                f"expected {EXPECTED.get(expect, expect)}")
        declared = resp.headers.get("Content-Length")
        declared_n = int(declared) if declared and declared.isdigit() else None
        if declared_n is not None and declared_n > policy.max_bytes:
            raise DownloadError(f"{full}: Content-Length {declared_n:,} bytes exceeds the maximum {policy.max_bytes:,}")
        encoded = resp.headers.get("Content-Encoding", "identity").lower() not in ("", "identity")
        digest, received, head = hashlib.sha256(), 0, b""
        started = last = time.monotonic()
        try:
            with open(tmp, "wb") as fh:
                # Raw bytes as sent, so Content-Length compares with what was received.
                for chunk in resp.raw.stream(policy.chunk, decode_content=encoded):
                    if not head:
                        head = chunk[:512]
                        _check_content(full, expect, resp.headers.get("Content-Type", ""), head)
                    received += len(chunk)
                    if received > policy.max_bytes:
                        raise DownloadError(f"{full}: body exceeds the maximum {policy.max_bytes:,} bytes")
                    digest.update(chunk)
                    fh.write(chunk)
                    now = time.monotonic()
                    if now - last >= policy.progress_every:
                        last = now
                        total = f" of {declared_n:,}" if declared_n else ""
                        log.info("%s: %s%s bytes in %.0f s", full, f"{received:,}", total, now - started)
        except DownloadError:
            raise
        except Exception as exc:  # noqa: BLE001 - urllib3/requests read errors: timeouts, resets
            name = type(exc).__name__
            kind = "timed out while reading" if "timeout" in (name + str(exc)).lower() else "body interrupted"
            of = f" of {declared_n:,}" if declared_n is not None else ""
            raise _Retryable(f"{kind} after {received:,}{of} bytes ({name}: {exc})") from exc
        if declared_n is not None and not encoded and received != declared_n:
            raise _Retryable(f"truncated body: received {received:,} of {declared_n:,} bytes (Content-Length)")
        if not head and expect is not None:
            raise DownloadError(f"{full}: empty body; expected {EXPECTED.get(expect, expect)}")
        return digest.hexdigest()


def fetch(url: str, dest: Path, *, expect: str | None = None, sha256: str | None = None,
          params: dict | None = None, policy: Policy | None = None,
          session: requests.Session | None = None, sleep=time.sleep) -> Path:
    """Download ``url`` to ``dest`` (atomically); returns ``dest``. See the module docstring."""
    policy = policy or Policy()
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    own = session is None
    session = session or requests.Session()
    shown = url + ("?" + urlencode(params) if params else "")
    reasons: list[str] = []
    try:
        for attempt in range(policy.retries + 1):
            try:
                got = _attempt(session, url, tmp, params, expect, policy)
            except _Retryable as exc:
                reasons.append(str(exc))
                if attempt == policy.retries:
                    break
                wait = min(policy.max_wait, exc.wait if exc.wait is not None else policy.backoff * 2 ** attempt)
                log.warning("%s: %s; retry %d of %d in %.1f s", shown, exc, attempt + 1, policy.retries, wait)
                sleep(wait)
                continue
            if sha256 and got != sha256.lower():
                raise DownloadError(f"{shown}: SHA-256 mismatch: expected {sha256.lower()}, received {got}")
            tmp.replace(dest)
            return dest
        raise DownloadError(
            f"{shown}: gave up after {len(reasons)} attempts; expected {EXPECTED.get(expect, expect)}; "
            f"last error: {reasons[-1]}"
        )
    finally:
        tmp.unlink(missing_ok=True)
        if own:
            session.close()


def _strip_paging(url: str) -> tuple[str, dict]:
    """The URL without its query, and the query's other parameters ($limit/$offset/$order dropped)."""
    parts = urlsplit(url)
    keep = {k: v for k, v in parse_qsl(parts.query) if k not in ("$limit", "$offset", "$order")}
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")), keep


def socrata_pages(url: str, folder: Path, *, limit: int = 1000, order: str = ":id",
                  max_pages: int = 200, prefix: str = "page", policy: Policy | None = None,
                  session: requests.Session | None = None, sleep=time.sleep) -> list[Path]:
    """Page a Socrata resource into ``folder/<prefix>-NNNN.json``; returns the page files.

    Stops at a short or empty page. A listing with no short page after ``max_pages`` pages, or
    a page identical to the one before (a server ignoring ``$offset``), is an error.
    """
    base, extra = _strip_paging(url)
    folder = Path(folder)
    pages: list[Path] = []
    previous: str | None = None
    records = 0
    for number in range(max_pages):
        params = {**extra, "$limit": str(limit), "$offset": str(number * limit), "$order": order}
        path = fetch(base, folder / f"{prefix}-{number + 1:04d}.json", expect="json", params=params,
                     policy=policy, session=session, sleep=sleep)
        shown = f"{base}?{urlencode(params)}"
        try:
            data = json.loads(path.read_bytes().decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DownloadError(f"{shown}: expected a JSON array of records, got invalid JSON ({exc})") from exc
        if not isinstance(data, list):
            raise DownloadError(f"{shown}: expected a JSON array of records, got a JSON {type(data).__name__}"
                                + (f" ({str(data)[:120]})" if isinstance(data, dict) else ""))
        if not data:
            path.unlink()
            break
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest == previous:
            raise DownloadError(f"{shown}: the server returned the same page again (it ignores $offset); "
                                f"expected records after {records:,}")
        previous = digest
        pages.append(path)
        records += len(data)
        log.info("%s: page %d, %d records (%s so far)", base, number + 1, len(data), f"{records:,}")
        if len(data) < limit:
            break
    else:
        raise DownloadError(
            f"{base}: no short page after {max_pages} pages of {limit} ({records:,} records); "
            "expected the listing to end (the server always returns a full page, or the dataset "
            "is larger than the page cap)"
        )
    return pages
