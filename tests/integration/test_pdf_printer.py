"""The sheets' PDF printer (headless Chromium) runs no script and reaches no network and no other
local file: the browser's own switches (``ficha.PRINTER_SWITCHES``) keep it off the network without
the page's help, and the content security policy the printer puts first in every page it prints
(``ficha.CSP_META``) turns scripts and other files off. Observed from outside: requests a loopback
HTTP server receives, and images the PDF embeds."""

from __future__ import annotations

import base64
import http.server
import io
import re
import threading

import pytest

from sinfonia.report import ficha

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
    ficha.print_pdf(page, pdf, BROWSER, policy=policy)
    return _images(pdf)


BROWSER = ficha.chromium()
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
    assert "script-src 'none'" in ficha.CSP_META and "default-src 'none'" in ficha.CSP_META
