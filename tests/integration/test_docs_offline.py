"""GX Data Docs render styled and complete in a browser with no network (their CDN assets are
replaced by local ones when the docs are built)."""

import json
import re
import subprocess

import psycopg
import pytest

from sinfonia import docs
from tests.integration.test_report import chromium

pytestmark = pytest.mark.integration

# Once loaded: what the page looks like, whether the index tables were filled, what was fetched,
# and whether a tab switches with the local script.
PROBE = """<script>window.addEventListener('load', () => {
  const style = el => el ? getComputedStyle(el) : {};
  const tab = document.querySelector('[data-toggle="tab"]:not(.active)');
  const target = tab ? document.querySelector(tab.getAttribute('href')) : null;
  const hiddenBefore = target ? target.offsetParent === null : null;
  if (tab) tab.click();
  const out = document.createElement('pre'); out.id = 'probe';
  out.textContent = JSON.stringify({
    font: style(document.body).fontFamily, tabs: style(document.querySelector('.nav-tabs')).display,
    rows: [...document.querySelectorAll('table[data-toggle="table"] tbody tr')].length,
    links: [...document.querySelectorAll('table[data-toggle="table"] tr[data-href]')].map(r => r.dataset.href),
    fetched: performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith('file:')),
    tabSwitched: target ? (hiddenBefore && target.offsetParent !== null) : null,
    missingImages: [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)});
  document.body.appendChild(out);
});</script>"""
EXTERNAL_RESOURCE = re.compile(r"<(?:link|script|img)\b[^>]*\b(?:src|href)=[\"']https?://", re.I)


def open_offline(page, profile) -> dict:
    probe = page.with_name(f"probe-{page.name}")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    proc = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120)
    probe.unlink()
    found = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S)
    assert found, f"{page.name} did not finish loading in Chromium: {proc.stderr[-1500:]}"
    import html

    return json.loads(html.unescape(found.group(1)))


def test_data_docs_need_no_network_and_render_styled_with_their_tables(fresh_dsn, tmp_path):
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:  # one validated suite: both index tabs
        conn.execute("create schema marts; create table marts.mart_coverage as select 2024 as year, "
                     "'national' as scope, 'CO' as scope_id, 10 as municipalities_reached, "
                     "20 as municipalities_in_scope, 0.5 as share_of_municipalities, 2 as pdet_reached, "
                     "4 as pdet_in_scope, 0.5 as share_of_pdet, 3 as category_5_6_reached, "
                     "6 as category_5_6_in_scope, 0.5 as share_of_category_5_6")
    index, validated = docs.build_data_docs(fresh_dsn, tmp_path)
    assert validated == 1
    site = index.parent
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 10
    for page in pages:
        assert not EXTERNAL_RESOURCE.search(page.read_text(encoding="utf-8")), f"{page} loads from the network"
    seen = open_offline(index, tmp_path / "profile")
    assert seen["fetched"] == [] and seen["missingImages"] == []
    assert "Times" not in seen["font"] and seen["tabs"] == "flex"  # styled, not the browser's defaults
    assert seen["rows"] >= 20 and any(link.startswith("expectations/") for link in seen["links"])
    assert seen["tabSwitched"] is True
    [validation] = site.glob("validations/marts_mart_coverage/**/*.html")
    text = validation.read_text(encoding="utf-8") + index.read_text(encoding="utf-8")
    assert "__none__" not in text and "sinfonia docs " in text  # the run is named, not GX's "__none__"
    for k, page in enumerate((site / "expectations" / "marts_mart_coverage.html", validation)):
        seen = open_offline(page, tmp_path / f"profile{k}")
        assert seen["fetched"] == [] and "Times" not in seen["font"] and seen["missingImages"] == [], page
