"""The sheets' PDF printer (headless Chromium) runs no script and reaches no network and no other
local file: the browser's own switches (``printer.PRINTER_SWITCHES``) keep it off the network without
the page's help, and the content security policy the printer puts first in every page it prints
(``printer.CSP_META``) turns scripts and other files off. Observed from outside: requests a loopback
HTTP server receives, and images the PDF embeds."""

from __future__ import annotations

import base64
import http.server
import io
import re
import threading
from pathlib import Path

import pytest

from sinfonia.report import printer

pytestmark = pytest.mark.integration


def _png() -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1], [0, 1])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


@pytest.fixture
def server():
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the standard library's name
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(_png())

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1], hits
    httpd.shutdown()


def _images(pdf) -> int:
    """Images of the test picture (100 × 100 pixels) in the PDF; not the icons Chromium draws in
    place of a blocked image or frame."""
    return len(re.findall(rb"/Width 100\b", pdf.read_bytes()))


def _print(tmp_path, name: str, head: str, body: str, policy: bool = True) -> int:
    page = tmp_path / f"{name}.html"
    page.write_text(f"<!DOCTYPE html><html><head><meta charset=\"utf-8\">{head}</head><body>{body}"
                    "<p>Ficha de prueba</p></body></html>", encoding="utf-8")
    pdf = tmp_path / f"{name}.pdf"
    printer.print_pdf(page, pdf, BROWSER, policy=policy)
    return _images(pdf)


BROWSER = printer.chromium()
needs_chromium = pytest.mark.skipif(BROWSER is None, reason="headless Chromium is not installed")


@needs_chromium
def test_the_printer_reaches_no_network_even_without_the_policy(tmp_path, server):
    port, hits = server
    images = _print(tmp_path, "hostile", "", f"<img src=\"http://127.0.0.1:{port}/img\">"
                    f"<img src=\"http://localhost:{port}/by-name\"><link rel=\"stylesheet\" "
                    f"href=\"http://127.0.0.1:{port}/css\">", policy=False)
    assert hits == [] and images == 0, hits  # the switches alone: nothing reached the network


@needs_chromium
def test_the_printer_runs_no_script_of_the_page(tmp_path, server):
    port, hits = server
    data = base64.b64encode(_png()).decode()
    script = (f"<script>document.body.insertAdjacentHTML('beforeend', '<img src=\"data:image/png;base64,{data}\">');"
              "</script>")
    assert _print(tmp_path, "scripted", "", script, policy=False) == 1  # a script can add an image...
    assert _print(tmp_path, "hostile", "", script + f"<script>fetch('http://127.0.0.1:{port}/x')</script>") == 0
    assert hits == []  # ...not in a page the printer prints


@needs_chromium
def test_the_sheets_policy_keeps_other_local_files_out_of_the_pdf(tmp_path):
    (tmp_path / "local.png").write_bytes(_png())
    secret = tmp_path / "secret.txt"
    secret.write_text("Cédula 1.234.567", encoding="utf-8")
    body = f"<img src=\"{(tmp_path / 'local.png').as_uri()}\"><img src=\"local.png\"><iframe src=\"{secret.as_uri()}\">"
    assert _print(tmp_path, "without", "", body, policy=False) >= 1  # a file:// page may load a file beside it...
    assert _print(tmp_path, "sheet", "", body) == 0  # ...not a page the printer prints
    assert "script-src 'none'" in printer.CSP_META and "default-src 'none'" in printer.CSP_META


@needs_chromium
def test_one_browser_prints_every_page_of_a_batch_each_its_own(tmp_path):
    from PIL import Image

    def picture(shade: int) -> str:  # a distinct image each (a PDF embeds a repeated one once)
        buf = io.BytesIO()
        Image.new("RGB", (100, 100), (shade, 0, 0)).save(buf, "PNG")
        return f"<img src=\"data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}\">"

    with printer.Printer(BROWSER) as batch:
        for k in (1, 2, 3):
            page = tmp_path / f"page{k}.html"
            body = "".join(picture(40 * k + i) for i in range(k))
            page.write_text(f"<!DOCTYPE html><html><head></head><body>{body}</body></html>", encoding="utf-8")
            batch.print(page, tmp_path / f"page{k}.pdf")
        browser, profile = batch._proc, Path(batch._profile.name)
    assert [_images(tmp_path / f"page{k}.pdf") for k in (1, 2, 3)] == [1, 2, 3]
    assert browser.poll() is not None and not profile.exists()  # closed, its profile removed
    assert not list(tmp_path.glob(".*.print.html"))  # the copies led by the policy are gone


def test_a_browser_that_stops_is_an_error_that_says_what_it_said(tmp_path):
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\necho 'cannot open display: the fake browser' >&2\nexit 1\n", encoding="utf-8")
    fake.chmod(0o755)
    with pytest.raises(printer.PrintError, match=r"Chromium stopped \(Browser.getVersion\): .*the fake browser"):
        printer.Printer(str(fake)).__enter__()


def test_a_browser_that_cannot_start_leaves_no_descriptor_or_profile_behind(tmp_path):
    import os
    import tempfile

    fake = tmp_path / "chromium"
    fake.write_text("not a program", encoding="utf-8")  # not executable
    open_before = len(os.listdir("/proc/self/fd"))
    profiles = set(Path(tempfile.gettempdir()).glob("sinfonia-chromium-*"))
    with pytest.raises(PermissionError):
        printer.Printer(str(fake)).__enter__()
    assert len(os.listdir("/proc/self/fd")) == open_before
    assert set(Path(tempfile.gettempdir()).glob("sinfonia-chromium-*")) == profiles


@needs_chromium
def test_a_page_chromium_cannot_open_is_named(tmp_path):
    with pytest.raises(printer.PrintError, match=r"could not open missing\.html: net::ERR_FILE_NOT_FOUND"):
        printer.print_pdf(tmp_path / "missing.html", tmp_path / "missing.pdf", BROWSER, policy=False)
    assert not (tmp_path / "missing.pdf").exists()
