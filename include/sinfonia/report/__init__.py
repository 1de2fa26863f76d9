"""``sinfonia report --out DIR``: the report for ESAP's planning office (in Spanish).

``DIR/index.html`` is one self-contained page (charts embedded as base64 PNG, no network) built
from sections; each section is a module of this package with ``section(conn) -> str`` returning
an HTML fragment. ``prioritisation`` is always there; ``monitoring`` and ``impact`` are added when
their modules exist (a section whose module is missing is skipped). The prioritised list is also
written as ``DIR/priorizacion_<year>.xlsx``: a national sheet, then one sheet per directorate.
Names and numbers follow Spanish and Colombian usage (``report.spanish``); no text cell of the
workbook can be a formula (``report.workbook``).

Files made from the synthetic sample say so on their face: when any load currently in the
warehouse came from a file the sample generator wrote (its origin in ``meta.landed_file`` starts
with ``SAMPLE_ORIGIN_PREFIX``), the page and every sheet carry the banner ``SAMPLE_BANNER``.
"""

from __future__ import annotations

import base64
import html
import importlib
import io
import logging
from pathlib import Path

from sinfonia import db
from sinfonia.errors import UserError

log = logging.getLogger(__name__)

SAMPLE_BANNER = "DATOS SINTÉTICOS DE MUESTRA"
SAMPLE_DETAIL = ("Este informe se generó con datos sintéticos producidos por Sinfonía para "
                 "demostración y pruebas: no son cifras oficiales.")
SECTIONS = ("prioritisation", "monitoring", "impact")

STYLE = """
body { font-family: 'DejaVu Sans', Arial, sans-serif; margin: 2rem auto; max-width: 1100px; color: #1d2733; }
h1 { color: #0b3d63; } h2 { color: #0b3d63; border-bottom: 2px solid #d7e3ee; padding-bottom: .3rem; }
.banner { background: #b00020; color: #fff; font-weight: bold; padding: .8rem 1rem; font-size: 1.2rem;
          border-radius: 4px; }
.banner small { display: block; font-weight: normal; font-size: .85rem; }
figure { margin: 1.2rem 0; } figure img { max-width: 100%; border: 1px solid #e3e8ee; }
figcaption { font-size: .9rem; color: #4a5a6a; }
table { border-collapse: collapse; font-size: .85rem; } th, td { border: 1px solid #d7e3ee; padding: .25rem .5rem; }
th { background: #eef3f8; text-align: left; }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; } td.num { white-space: nowrap; }
table.leaderboard { font-size: .78rem; }
ul.codigos { columns: 2; font-size: .85rem; } details.codigos summary { font-weight: bold; cursor: pointer; }
.note { color: #4a5a6a; font-size: .9rem; }
"""


def is_sample_data(conn) -> bool:
    """True when any load in the warehouse came from a file of the synthetic sample."""
    from sinfonia.sample import SAMPLE_ORIGIN_PREFIX

    if conn.execute("select to_regclass('meta.load_run'), to_regclass('meta.landed_file')").fetchone().count(None):
        return False
    return conn.execute(
        """select exists (select 1 from meta.load_run r join meta.landed_file f on f.sha256 = any(r.files)
                          where r.status = 'loaded' and f.origin like %s)""",
        (SAMPLE_ORIGIN_PREFIX.replace("%", r"\%").replace("_", r"\_") + "%",)).fetchone()[0]


def figure_html(fig, alt: str, caption: str, tight: bool = True) -> str:
    """A matplotlib figure as an embedded PNG with its caption (closes the figure). ``tight``
    trims the figure to what it draws (one more drawing of it): off for a figure laid out by hand."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, **({"bbox_inches": "tight"} if tight else {}))
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def load_sections() -> list:
    found = []
    for name in SECTIONS:
        try:
            module = importlib.import_module(f"sinfonia.report.{name}")
        except ImportError as exc:  # that section is not part of this installation
            log.info("report section %s skipped: %s", name, exc)
            continue
        found.append(module)
    return found


def snapshot_years(conn) -> list[int]:
    """The prioritisation years with a snapshot in the warehouse."""
    if conn.execute("select to_regclass('marts.mart_prioritisation')").fetchone()[0] is None:
        return []
    return [y for (y,) in conn.execute("select distinct prioritisation_year from marts.mart_prioritisation "
                                       "order by 1")]


class NoSnapshot(UserError):
    """The year asked for has no prioritisation snapshot."""


def require_snapshot(dsn: str, year: int) -> None:
    from sinfonia import db

    with db.connect(dsn, autocommit=True) as conn:
        years = snapshot_years(conn)
    if year not in years:
        raise NoSnapshot(f"there is no prioritisation snapshot of {year} (snapshots: "
                         f"{', '.join(map(str, years)) or 'none'}); `sinfonia prioritise --year {year}` writes one")


def render(conn, year: int | None = None, sources: Path | str | None = None) -> str:
    """The page; ``year`` is the prioritisation year (default: its section's latest year with goals);
    ``sources`` a sources folder whose ``mgn/`` holds DANE's municipality boundaries for the maps
    (points at DIVIPOLA's coordinates otherwise)."""
    import matplotlib

    from sinfonia.report import maps

    matplotlib.use("Agg")
    matplotlib.rcParams["text.parse_math"] = False  # names from data are text, never mathtext ($…$)
    sample = is_sample_data(conn)
    boundaries = maps.load_boundaries(sources)
    parts = []
    for section in load_sections():
        name = section.__name__.rsplit(".", 1)[-1]
        if name == "prioritisation":
            parts.append(section.section(conn, year, sample=sample, boundaries=boundaries))
        elif name == "monitoring":
            parts.append(section.section(conn, sample=sample, boundaries=boundaries))
        else:
            parts.append(section.section(conn))
    banner = (f'<div class="banner" role="alert">{SAMPLE_BANNER}<small>{html.escape(SAMPLE_DETAIL)}</small></div>'
              if sample else "")
    from sinfonia.report.spanish import generated_at

    stamp = generated_at()
    return f"""<!DOCTYPE html>
<html lang="es"><head><meta charset="utf-8">
<title>Sinfonía · Informe de la Estrategia de Asistencia Técnica Territorial</title>
<style>{STYLE}{maps.STYLE}</style></head>
<body>
{banner}
<h1>Sinfonía · Informe para la Oficina de Planeación</h1>
<p class="note">Escuela Superior de Administración Pública (ESAP), Estrategia de Asistencia Técnica
Territorial. Generado el {stamp} a partir de las tablas publicadas del almacén (esquema <code>marts</code>).</p>
{''.join(parts)}
{banner}
</body></html>
"""


def build(dsn: str | None, out: Path, progress=print, year: int | None = None,
          sources: Path | str | None = None) -> list[Path]:
    """Write ``index.html`` and the prioritised list of ``year`` (default: the latest year with
    goals) as XLSX under ``out``; returns the paths. ``sources``: see ``render``."""
    from sinfonia.report import prioritisation

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with db.connect(dsn, autocommit=True) as conn:
        page = render(conn, year, sources)
        written = [out / "index.html"]
        written[0].write_text(page, encoding="utf-8")
        xlsx = prioritisation.write_xlsx(conn, out, is_sample_data(conn), year)
    if xlsx:
        written.append(xlsx)
    else:
        progress("no prioritisation snapshot in the warehouse yet: the XLSX list was not written "
                 "(run `sinfonia prioritise --year Y`)")
    progress(f"report written to {out}")
    return written
