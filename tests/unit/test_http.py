"""Downloads against a real local HTTP server with faults: retries, limits, checks, paging."""

from __future__ import annotations

import hashlib
import json
import time

import pytest

from sinfonia.ingest.http import DownloadError, Policy, fetch, retry_after, socrata_pages
from tests.webserver import LocalWeb, send, send_json

FAST = Policy(connect_timeout=2, read_timeout=0.5, retries=2, backoff=0.01, max_wait=2)
WORKBOOK = b"PK\x03\x04" + bytes(range(256)) * 40  # starts like an xlsx (a ZIP container)
HTML = b"<!DOCTYPE html><html><body><h1>Servicio no disponible</h1></body></html>"


@pytest.fixture
def web():
    with LocalWeb() as server:
        yield server


def test_a_500_then_a_200_succeeds_after_a_retry(web, tmp_path):
    url = web.route("/idf.xlsx", lambda h, n: send(h, b"boom", status=500) if n == 1 else send(h, WORKBOOK))
    out = fetch(url, tmp_path / "idf.xlsx", expect="xlsx", policy=FAST)
    assert out.read_bytes() == WORKBOOK and web.hits["/idf.xlsx"] == 2
    assert not list(tmp_path.glob("*.part"))


def test_429_waits_as_retry_after_says(web, tmp_path):
    url = web.route("/f.csv", lambda h, n: send(h, b"slow down", status=429, headers={"Retry-After": "1"})
                    if n == 1 else send(h, b"a,b\n1,2\n", content_type="text/csv"))
    waits: list[float] = []
    fetch(url, tmp_path / "f.csv", expect="csv", policy=FAST, sleep=lambda s: (waits.append(s), time.sleep(s)))
    assert waits == [1.0] and web.hits["/f.csv"] == 2


def test_retry_after_as_an_http_date():
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: no wait
    assert retry_after("7") == 7.0 and retry_after(None) is None and retry_after("soon") is None


def test_persistent_5xx_gives_up_after_the_bounded_retries_naming_the_url(web, tmp_path):
    url = web.route("/down.xlsx", lambda h, n: send(h, b"unavailable", status=503))
    waits: list[float] = []
    with pytest.raises(DownloadError) as err:
        fetch(url, tmp_path / "down.xlsx", expect="xlsx", policy=FAST, sleep=waits.append)
    assert url in str(err.value) and "3 attempts" in str(err.value) and "HTTP 503" in str(err.value)
    assert "an Excel workbook" in str(err.value)
    assert web.hits["/down.xlsx"] == 3 and waits == [0.01, 0.02]  # exponential backoff
    assert not (tmp_path / "down.xlsx").exists()


def test_other_4xx_is_not_retried(web, tmp_path):
    url = web.route("/gone.csv", lambda h, n: send(h, b"no", status=404))
    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch(url, tmp_path / "gone.csv", expect="csv", policy=FAST)
    assert web.hits["/gone.csv"] == 1


def test_a_truncated_body_is_retried_then_succeeds(web, tmp_path):
    url = web.route("/t.xlsx", lambda h, n: send(h, WORKBOOK[:3000], length=len(WORKBOOK))
                    if n == 1 else send(h, WORKBOOK))
    assert fetch(url, tmp_path / "t.xlsx", expect="xlsx", policy=FAST).read_bytes() == WORKBOOK
    assert web.hits["/t.xlsx"] == 2


def test_an_always_truncated_body_is_a_clear_error(web, tmp_path):
    url = web.route("/t.xlsx", lambda h, n: send(h, WORKBOOK[:3000], length=len(WORKBOOK)))
    with pytest.raises(DownloadError) as err:
        fetch(url, tmp_path / "t.xlsx", expect="xlsx", policy=FAST, sleep=lambda s: None)
    msg = str(err.value)
    assert url in msg and ("truncated" in msg or "interrupted" in msg) and f"{len(WORKBOOK):,}" in msg
    assert not (tmp_path / "t.xlsx").exists() and not list(tmp_path.glob("*.part"))


def test_a_slow_response_times_out_then_the_retry_succeeds(web, tmp_path):
    def route(h, n):
        if n == 1:
            time.sleep(1.5)  # longer than the read timeout
        send(h, b'[{"a": 1}]', content_type="application/json")

    url = web.route("/slow.json", route)
    assert json.loads(fetch(url, tmp_path / "s.json", expect="json", policy=FAST).read_text()) == [{"a": 1}]
    assert web.hits["/slow.json"] == 2


def test_an_always_slow_response_is_a_clear_timeout_error(web, tmp_path):
    url = web.route("/slow.json", lambda h, n: (time.sleep(1.2), send(h, b"[]")))
    with pytest.raises(DownloadError) as err:
        fetch(url, tmp_path / "s.json", expect="json", policy=Policy(read_timeout=0.3, retries=1, backoff=0.01))
    assert url in str(err.value) and "timed out" in str(err.value)


def test_a_body_that_stalls_mid_stream_times_out(web, tmp_path):
    def route(h, n):
        h.send_response(200)
        h.send_header("Content-Length", str(len(WORKBOOK)))
        h.end_headers()
        h.wfile.write(WORKBOOK[:1000])
        h.wfile.flush()
        time.sleep(1.5)
        h.close_connection = True

    url = web.route("/stall.xlsx", route)
    with pytest.raises(DownloadError, match="timed out while reading|interrupted"):
        fetch(url, tmp_path / "x.xlsx", expect="xlsx", policy=Policy(read_timeout=0.3, retries=0))


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "application/octet-stream"])
def test_an_html_error_page_instead_of_a_workbook_is_an_error(web, tmp_path, content_type):
    url = web.route("/anexo.xlsx", lambda h, n: send(h, HTML, content_type=content_type))
    with pytest.raises(DownloadError) as err:
        fetch(url, tmp_path / "anexo.xlsx", expect="xlsx", policy=FAST)
    assert url in str(err.value) and "HTML page" in str(err.value) and "an Excel workbook" in str(err.value)
    assert web.hits["/anexo.xlsx"] == 1 and not (tmp_path / "anexo.xlsx").exists()


def test_a_checksum_mismatch_is_an_error_and_nothing_is_kept(web, tmp_path):
    url = web.route("/ipm.xlsx", lambda h, n: send(h, WORKBOOK))
    with pytest.raises(DownloadError) as err:
        fetch(url, tmp_path / "ipm.xlsx", expect="xlsx", sha256="0" * 64, policy=FAST)
    assert "SHA-256 mismatch" in str(err.value) and hashlib.sha256(WORKBOOK).hexdigest() in str(err.value)
    assert not (tmp_path / "ipm.xlsx").exists()
    good = fetch(url, tmp_path / "ipm.xlsx", expect="xlsx", sha256=hashlib.sha256(WORKBOOK).hexdigest())
    assert good.read_bytes() == WORKBOOK


def test_an_empty_body_is_an_error(web, tmp_path):
    url = web.route("/empty.csv", lambda h, n: send(h, b"", content_type="text/csv"))
    with pytest.raises(DownloadError, match="empty body; expected a CSV file"):
        fetch(url, tmp_path / "empty.csv", expect="csv", policy=FAST)


def test_a_body_over_the_maximum_size_is_refused(web, tmp_path):
    url = web.route("/big.csv", lambda h, n: send(h, b"x" * 5000, content_type="text/csv"))
    with pytest.raises(DownloadError, match="exceeds the maximum 1,000"):
        fetch(url, tmp_path / "big.csv", expect="csv", policy=Policy(max_bytes=1000))


def test_without_a_server_the_error_names_the_url(tmp_path):
    url = "http://127.0.0.1:9/nothing.xlsx"  # the discard port: connection refused
    with pytest.raises(DownloadError) as err:
        fetch(url, tmp_path / "n.xlsx", expect="xlsx", policy=FAST, sleep=lambda s: None)
    assert url in str(err.value) and "connection failed" in str(err.value)


# -- Socrata paging --------------------------------------------------------------------------------
def socrata(records: list[dict]):
    """A Socrata-like resource honouring $limit, $offset and $order."""
    def route(h, n):
        q = h.query
        limit, offset = int(q.get("$limit", 1000)), int(q.get("$offset", 0))
        key = q.get("$order", ":id")
        rows = records if key == ":id" else sorted(records, key=lambda r: r[key])  # :id = row order
        send_json(h, rows[offset:offset + limit])
    return route


def test_socrata_paging_2500_records_in_exactly_3_pages(web, tmp_path):
    records = [{"cod_mpio": f"{i:05d}", "nom_mpio": f"M{i}"} for i in range(2500, 0, -1)]
    url = web.route("/resource/gdxc-w37w.json", socrata(records))
    pages = socrata_pages(url + "?$limit=5000", tmp_path, limit=1000, order="cod_mpio", policy=FAST)
    assert [p.name for p in pages] == ["page-0001.json", "page-0002.json", "page-0003.json"]
    got = [r for p in pages for r in json.loads(p.read_text())]
    assert len(got) == 2500 and len({r["cod_mpio"] for r in got}) == 2500
    assert [r["cod_mpio"] for r in got] == sorted(r["cod_mpio"] for r in records)
    assert web.hits["/resource/gdxc-w37w.json"] == 3
    assert all("%24order=cod_mpio" in r and "%24limit=1000" in r and "5000" not in r for r in web.requests)


def test_socrata_stops_at_an_empty_page_when_the_total_is_a_multiple_of_the_limit(web, tmp_path):
    url = web.route("/r.json", socrata([{"id": i} for i in range(2000)]))
    pages = socrata_pages(url, tmp_path, limit=1000, order="id", policy=FAST)
    assert len(pages) == 2 and web.hits["/r.json"] == 3 and not (tmp_path / "page-0003.json").exists()


def test_a_listing_that_never_ends_is_detected(web, tmp_path):
    def endless(h, n):
        offset = int(h.query["$offset"])
        send_json(h, [{"id": offset + i} for i in range(int(h.query["$limit"]))])

    url = web.route("/endless.json", endless)
    with pytest.raises(DownloadError) as err:
        socrata_pages(url, tmp_path, limit=10, max_pages=5, policy=FAST)
    assert url in str(err.value) and "no short page after 5 pages" in str(err.value)
    assert web.hits["/endless.json"] == 5


def test_the_same_page_again_is_detected(web, tmp_path):
    url = web.route("/stuck.json", lambda h, n: send_json(h, [{"id": i} for i in range(10)]))
    with pytest.raises(DownloadError, match="same page again"):
        socrata_pages(url, tmp_path, limit=10, policy=FAST)
    assert web.hits["/stuck.json"] == 2


def test_a_page_that_is_not_an_array_is_an_error(web, tmp_path):
    url = web.route("/err.json", lambda h, n: send_json(h, {"error": True, "message": "query timeout"}))
    with pytest.raises(DownloadError, match="expected a JSON array of records, got a JSON dict"):
        socrata_pages(url, tmp_path, policy=FAST)


def test_progress_is_logged_for_a_long_download(web, tmp_path, caplog):
    def route(h, n):
        h.send_response(200)
        h.send_header("Content-Length", str(len(WORKBOOK)))
        h.end_headers()
        for i in range(0, len(WORKBOOK), 2000):
            h.wfile.write(WORKBOOK[i:i + 2000])
            h.wfile.flush()
            time.sleep(0.05)

    url = web.route("/long.xlsx", route)
    caplog.set_level("INFO", logger="sinfonia.ingest.http")
    fetch(url, tmp_path / "long.xlsx", expect="xlsx", policy=Policy(chunk=1024, progress_every=0.01))
    progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith(url)]
    assert progress and all(f"of {len(WORKBOOK):,} bytes" in m for m in progress)
