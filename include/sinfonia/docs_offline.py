"""GX Data Docs that render with no network.

GX's pages load Bootstrap, jQuery, bootstrap-table, Font Awesome, Vega and the GX logo from CDNs
and S3; offline the index table (filled by bootstrap-table from inline data) stays empty and the
pages are unstyled. ``make_offline(site)`` rewrites every page of a built site: the external
``<link>`` and ``<script>`` tags are removed, the logo points at the copy GX ships in
``static/images``, and two local files written into ``static/`` take their place: a stylesheet
with the Bootstrap classes the pages use, and a small script with the few jQuery calls the pages
make (ready, on, fadeIn/fadeOut, parent, classes) plus bootstrap-table's rendering of the inline
data, tabs and collapsible sections. GX's own stylesheet (``static/styles``) is local already.
"""

from __future__ import annotations

import re
from pathlib import Path

EXTERNAL_LINK = re.compile(r"<link\b[^>]*\bhref=[\"']https?://[^>]*>\s*", re.I)
EXTERNAL_SCRIPT = re.compile(r"<script\b[^>]*\bsrc=[\"']https?://[^>]*>\s*</script>\s*", re.I | re.S)
REMOTE_LOGO = re.compile(r"src=[\"']https://great-expectations-web-assets[^\"']*/(logo-long\.png|short-logo\.png)[^\"']*[\"']")
CSS_FILE, JS_FILE = "static/styles/sinfonia-offline.css", "static/sinfonia-offline.js"

CSS = """
*, ::before, ::after { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', Arial, sans-serif;
       font-size: .9rem; line-height: 1.5; color: #212529; background: #fff; }
a { color: #0b5ed7; text-decoration: none; } a:hover { text-decoration: underline; }
h1, h2, h3, h4, h5, h6 { margin: .5rem 0; font-weight: 500; line-height: 1.2; }
.container, .container-fluid { width: 100%; padding: 0 15px; margin: 0 auto; }
.row { display: flex; flex-wrap: wrap; margin: 0 -15px; }
[class*="col-"] { position: relative; width: 100%; padding: 0 15px; }
@media (min-width: 768px) {
  .col-md-2 { flex: 0 0 16.67%; max-width: 16.67%; } .col-md-10 { flex: 0 0 83.33%; max-width: 83.33%; }
  .col-md-6 { flex: 0 0 50%; max-width: 50%; } .col-md-12, .col-12 { flex: 0 0 100%; max-width: 100%; }
}
@media (min-width: 992px) {
  .col-lg-2 { flex: 0 0 16.67%; max-width: 16.67%; } .col-lg-10 { flex: 0 0 83.33%; max-width: 83.33%; }
}
.d-flex { display: flex; } .d-none { display: none; } .d-block { display: block; }
.align-items-center { align-items: center; } .justify-content-between { justify-content: space-between; }
.float-left { float: left; } .float-right { float: right; } .mr-auto { margin-right: auto; }
.m-0 { margin: 0; } .p-0 { padding: 0; } .px-0 { padding-left: 0; padding-right: 0; }
.mb-1 { margin-bottom: .25rem; } .mb-2 { margin-bottom: .5rem; } .mb-4 { margin-bottom: 1.5rem; }
.mt-1 { margin-top: .25rem; } .mt-2 { margin-top: .5rem; } .ml-1 { margin-left: .25rem; }
.pt-4 { padding-top: 1.5rem; } .pb-4 { padding-bottom: 1.5rem; } .pl-5 { padding-left: 3rem; }
.pr-5 { padding-right: 3rem; } .pb-1 { padding-bottom: .25rem; } .h-100 { height: 100%; }
.navbar { display: flex; align-items: center; padding: .5rem 1rem; background: #f8f9fa; }
.sticky-top { position: sticky; top: 0; z-index: 10; } .border-bottom { border-bottom: 1px solid #dee2e6; }
.nav { display: flex; flex-wrap: wrap; padding: 0; margin: 0; list-style: none; }
.nav-tabs { display: flex; list-style: none; padding: 0; margin: 0 0 1rem; border-bottom: 1px solid #dee2e6; }
.nav-link { display: block; padding: .5rem 1rem; border: 1px solid transparent; border-radius: .25rem .25rem 0 0; }
.nav-link.active { color: #495057; background: #fff; border-color: #dee2e6 #dee2e6 #fff; margin-bottom: -1px; }
.tab-content > .tab-pane { display: none; } .tab-content > .active { display: block; }
.collapse:not(.show) { display: none; }
.card { position: relative; display: flex; flex-direction: column; margin-bottom: 1rem; border: 1px solid #dee2e6;
        border-radius: .25rem; background: #fff; }
.card-header { padding: .6rem 1rem; background: #f7f7f9; border-bottom: 1px solid #dee2e6; }
.card-body { padding: 1rem; }
.alert { padding: .75rem 1.25rem; margin-bottom: 1rem; border: 1px solid transparent; border-radius: .25rem; }
.alert-secondary { color: #383d41; background: #e2e3e5; border-color: #d6d8db; }
.alert-danger { color: #721c24; background: #f8d7da; } .alert-success { color: #155724; background: #d4edda; }
table, .table { width: 100%; margin-bottom: 1rem; border-collapse: collapse; }
table td, table th { padding: .35rem .5rem; border-top: 1px solid #dee2e6; vertical-align: top; text-align: left; }
thead th { border-bottom: 2px solid #dee2e6; background: #f1f3f5; }
.table-sm td, .table-sm th { padding: .3rem; } .table-bordered td, .table-bordered th { border: 1px solid #dee2e6; }
tr.clickable-row:hover { background: #f1f6fb; cursor: pointer; }
.badge { display: inline-block; padding: .25em .4em; font-size: 75%; font-weight: 700; border-radius: .25rem;
         background: #e9ecef; }
.badge-info { background: #17a2b8; color: #fff; } .badge-secondary { background: #6c757d; color: #fff; }
.btn { display: inline-block; padding: .25rem .5rem; border: 1px solid #6c757d; border-radius: .2rem;
       background: #6c757d; color: #fff; font-size: .8rem; cursor: pointer; }
.list-group { padding: 0; margin: 0; list-style: none; }
.list-group-item { padding: .5rem 1rem; border: 1px solid rgba(0,0,0,.125); }
.text-danger { color: #dc3545; } .text-success { color: #28a745; } .text-muted { color: #6c757d; }
.fas, .fa { font-style: normal; font-weight: bold; }
.fa-check-circle::before { content: "\\2714"; } .fa-times::before { content: "\\2718"; }
.fa-times-circle::before { content: "\\2718"; } .fa-exclamation-triangle::before { content: "\\26A0"; }
.cooltip .top { display: none; } .cooltip:hover .top { display: block; position: absolute; z-index: 5;
  white-space: pre; background: #333; color: #fff; padding: .5rem; border-radius: .25rem; font-size: .75rem; }
.modal { display: none; }
"""

JS = r"""
(function () {
  'use strict';
  function Wrap(nodes) { this.nodes = nodes.filter(Boolean); this.length = this.nodes.length; }
  function $(target) {
    if (typeof target === 'function') { return $(document).ready(target); }
    if (target instanceof Wrap) { return target; }
    if (typeof target === 'string') { return new Wrap(Array.from(document.querySelectorAll(target))); }
    return new Wrap([target]);
  }
  var P = Wrap.prototype;
  P.each = function (fn) { this.nodes.forEach(function (n, i) { fn.call(n, i, n); }); return this; };
  P.ready = function (fn) {
    if (document.readyState !== 'loading') { fn($); } else { document.addEventListener('DOMContentLoaded', function () { fn($); }); }
    return this;
  };
  P.on = function (events, selector, fn) {
    if (typeof selector === 'function') { fn = selector; selector = null; }
    return this.each(function () {
      var node = this;
      events.split(/\s+/).forEach(function (ev) {
        node.addEventListener(ev.split('.')[0], function (e) {
          var hit = selector ? e.target.closest(selector) : node;
          if (hit) { fn.call(hit, e); }
        });
      });
    });
  };
  P.parent = function () { return new Wrap(this.nodes.map(function (n) { return n.parentElement; })); };
  P.fadeIn = P.show = function () { return this.each(function () { this.style.display = ''; }); };
  P.fadeOut = P.hide = function () { return this.each(function () { this.style.display = 'none'; }); };
  P.addClass = function (c) { return this.each(function () { this.classList.add(c); }); };
  P.removeClass = function (c) { return this.each(function () { this.classList.remove(c); }); };
  P.modal = function () { return this; };
  P.bootstrapTable = function (options) {
    if (typeof options !== 'object') { return this; }
    return this.each(function () {
      var table = this, columns = options.columns || [], rows = options.data || [];
      var head = '<thead><tr>' + columns.map(function (c) { return '<th>' + (c.title || '') + '</th>'; }).join('') + '</tr></thead>';
      var body = rows.map(function (r) {
        var link = r._table_row_link_path ? ' class="clickable-row" data-href="' + r._table_row_link_path + '"' : '';
        return '<tr' + link + '>' + columns.map(function (c) { return '<td>' + (r[c.field] == null ? '' : r[c.field]) + '</td>'; }).join('') + '</tr>';
      }).join('');
      table.innerHTML = head + '<tbody>' + body + '</tbody>';
      table.classList.add('table');
      table.addEventListener('click', function (e) {
        var row = e.target.closest('tr[data-href]');
        if (row && !e.target.closest('a')) { window.location.href = row.getAttribute('data-href'); }
      });
    });
  };
  window.$ = window.jQuery = $;
  document.addEventListener('click', function (e) {
    var toggle = e.target.closest('[data-toggle="tab"], [data-toggle="collapse"]');
    if (!toggle) { return; }
    var target = document.querySelector(toggle.getAttribute('data-target') || toggle.getAttribute('href'));
    if (!target) { return; }
    e.preventDefault();
    if (toggle.getAttribute('data-toggle') === 'collapse') { target.classList.toggle('show'); return; }
    Array.from(toggle.closest('ul, nav').querySelectorAll('[data-toggle="tab"]')).forEach(function (t) { t.classList.remove('active'); });
    Array.from(target.parentElement.children).forEach(function (p) { p.classList.remove('active', 'show'); });
    toggle.classList.add('active'); target.classList.add('active', 'show');
  });
})();
"""  # noqa: E501 - JavaScript kept as written, one statement a line


def make_offline(site: Path) -> int:
    """Rewrite every page of a built Data Docs site to need nothing from the network; returns
    the number of pages rewritten."""
    site = Path(site)
    (site / CSS_FILE).parent.mkdir(parents=True, exist_ok=True)
    (site / CSS_FILE).write_text(CSS, encoding="utf-8")
    (site / JS_FILE).write_text(JS, encoding="utf-8")
    pages = 0
    for page in site.rglob("*.html"):
        up = "../" * (len(page.relative_to(site).parts) - 1)
        text = page.read_text(encoding="utf-8")
        text = EXTERNAL_SCRIPT.sub("", EXTERNAL_LINK.sub("", text))
        text = REMOTE_LOGO.sub(lambda m, up=up: f'src="{up}static/images/{m.group(1)}"', text)
        local = (f'<link rel="stylesheet" href="{up}{CSS_FILE}">'
                 f'<script src="{up}{JS_FILE}"></script>')
        text = re.sub(r"<head[^>]*>", lambda m, local=local: m.group(0) + local, text, count=1)
        page.write_text(text, encoding="utf-8")
        pages += 1
    return pages
