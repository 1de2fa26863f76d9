"""Extracting one source from a URL: download (or page), then land, parse and load as from files.

A Socrata resource (``…/resource/<id>.json``) is paged into JSON files; any other URL is one
file. Downloads go to a scratch folder under the state folder and are removed once landed; the
landing zone keeps the bytes, and ``meta.landed_file.origin`` the URL they came from.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path
from urllib.parse import unquote, urlsplit

from sinfonia import config
from sinfonia.ingest.http import Policy, fetch, socrata_pages
from sinfonia.ingest.loading import LoadResult
from sinfonia.ingest.locations import Location, guess_expect

SOCRATA_RESOURCE = re.compile(r"/resource/([a-z0-9]{4}-[a-z0-9]{4})\.json$")


def is_url(text: str) -> bool:
    return urlsplit(str(text)).scheme in ("http", "https")


def policy_from_env() -> Policy:
    """The default policy, with ``SINFONIA_HTTP_RETRIES`` / ``SINFONIA_HTTP_TIMEOUT`` (s) if set."""
    p = Policy()
    retries = os.environ.get("SINFONIA_HTTP_RETRIES")
    timeout = os.environ.get("SINFONIA_HTTP_TIMEOUT")
    return Policy(connect_timeout=float(timeout) if timeout else p.connect_timeout,
                  read_timeout=float(timeout) if timeout else p.read_timeout,
                  retries=int(retries) if retries else p.retries)


def _file_name(url: str, source: str, expect: str | None) -> str:
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    name = re.sub(r"[^\w .()\-]", "_", name).strip()
    return name if "." in name else f"{source}.{expect or 'dat'}"


def download(source: str, loc: Location, folder: Path, policy: Policy | None = None) -> dict[Path, str]:
    """Fetch a location into ``folder``; returns each file with the URL it came from."""
    policy = policy or policy_from_env()
    match = SOCRATA_RESOURCE.search(urlsplit(loc.url).path)
    if loc.kind == "socrata" or match:
        dataset = match.group(1) if match else source
        pages = socrata_pages(loc.url, folder, order=loc.order or ":id", prefix=f"{dataset}-page",
                              policy=policy)
        return {p: loc.url for p in pages}
    path = fetch(loc.url, folder / (loc.file_name or _file_name(loc.url, source, loc.expect)),
                 expect=loc.expect, sha256=loc.sha256, policy=policy)
    return {path: loc.url}


def location_for_url(source: str, url: str) -> Location:
    kind = "socrata" if SOCRATA_RESOURCE.search(urlsplit(url).path) else "file"
    return Location(source, kind, url, guess_expect(url) or ("json" if kind == "socrata" else None))


def extract_location(source: str, loc: Location, dsn: str | None = None, period: str | None = None,
                     policy: Policy | None = None) -> list[LoadResult]:
    from sinfonia.ingest.extract import extract

    scratch = config.state_dir() / "downloads" / uuid.uuid4().hex[:12]
    try:
        origins = download(source, loc, scratch, policy)
        return extract(source, list(origins), None, dsn, origins=origins, period=period)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
