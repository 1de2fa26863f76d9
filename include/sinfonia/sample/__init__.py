"""``sinfonia sample``: synthetic source files in the real formats and file names.

Deterministic for a seed. Everything written says it is synthetic (a README in the folder,
a note inside each workbook), and a ``MANIFEST.csv`` records each file's source, period,
publication date and the origin the real file would have.
"""

from __future__ import annotations

import csv
from pathlib import Path

from sinfonia.sample import esap, impact, indices, writers
from sinfonia.sample.model import build_world

# Every origin the sample records starts with this, so the warehouse knows (meta.landed_file) and
# outputs made from sample data can say so on their face.
SAMPLE_ORIGIN_PREFIX = "sinfonia-sample (synthetic): "


def write_sample(out: Path, seed: int = 42, scale: float = 1.0, first_year: int = 2016,
                 last_year: int = 2025, municipalities: int | None = None,
                 impact_effect: float = 0.0) -> dict[str, int]:
    """Write every sample source under ``out``; returns files written per source.

    ``impact_effect`` plants a known effect on MDM (points) from the year a municipality's
    cumulative delivered assistances reach 5 (``sample.impact``, ``sample.indices``).
    """
    if last_year < first_year + 1:
        raise ValueError("--last-year must be at least one year after --first-year")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    world = build_world(seed, first_year, last_year, municipalities)
    files = []
    files += writers.write_divipola(world, out)
    files += writers.write_pdet(world, out)
    files += writers.write_idf(world, out)
    assistances = esap.simulate(world, scale)
    files += writers.write_asistencias(
        [(d, esap.export_rows(world, assistances, d)) for d in esap.export_dates(world)], out
    )
    files += writers.write_metas(esap.goal_rows(world, assistances), out)
    treated = impact.treatment_years(world, assistances)
    files += indices.write_mdm(world, out, indices.mdm_values(world, treated, impact_effect))
    files += indices.write_ipm(world, out)
    files += indices.write_imrc(world, out)
    files += indices.write_categories(world, out)
    files += writers.write_equipos(esap.team_rows(world), out)
    with open(out / "MANIFEST.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["file", "source", "period", "published_on", "origin"])
        w.writeheader()
        for path, meta in files:
            w.writerow({"file": str(path.relative_to(out)), **meta,
                        "origin": SAMPLE_ORIGIN_PREFIX + meta["origin"]})
    (out / "README.txt").write_text(
        f"{writers.SAMPLE_NOTE}\nSemilla {seed}, escala {scale}, años {first_year}–{last_year}, "
        f"efecto de impacto plantado en el MDM: {impact_effect} puntos.\n"
        "Las coordenadas de DIVIPOLA (latitud, longitud) también son sintéticas: puntos alrededor del "
        "centro aproximado de cada departamento, no la ubicación de ningún municipio.\n",
        encoding="utf-8",
    )
    counts: dict[str, int] = {}
    for _, meta in files:
        counts[meta["source"]] = counts.get(meta["source"], 0) + 1
    return counts
