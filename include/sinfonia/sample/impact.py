"""The planted impact: which sample municipalities are treated, from which year.

A municipality is *treated* from the first calendar year in which its cumulative count of
DELIVERED assistances, counted by the year of the delivery date, reaches ``THRESHOLD`` (5).
Only deliveries the sample's exports show are counted (delivered on or before the last export
date), so the rule recomputed from ``marts.fct_technical_assistance`` (``is_delivered``,
``delivered_date``) gives the same years. ``sinfonia sample --impact-effect X`` then adds ``X``
points to that municipality's MDM total in every year on or after its treatment year (see
``sample.indices.mdm_values``); nothing else moves.

``panel`` builds, in memory and without files or a warehouse, the long frame the impact
estimator reads (the shape of ``marts.mart_impact_panel``) from the same latent values the sample
files are written from: for calibration runs over many seeds (``bench/impact_calibration.py``).
"""

from __future__ import annotations

from collections import Counter

from sinfonia.sample.esap import Assistance, export_dates
from sinfonia.sample.model import World, build_world

THRESHOLD = 5
IPM_YEAR = 2018  # the census the municipal IPM is measured on (sample.indices.write_ipm)


def treatment_years(world: World, assistances: list[Assistance], threshold: int = THRESHOLD) -> dict[str, int]:
    """municipality code → first year its cumulative delivered assistances reach ``threshold``."""
    horizon = export_dates(world)[-1]
    per_year: dict[str, Counter] = {}
    for a in assistances:
        if a.delivered and a.delivered <= horizon and not (a.cancelled and a.cancelled <= horizon):
            per_year.setdefault(a.entity_code, Counter())[a.delivered.year] += 1
    out: dict[str, int] = {}
    for code, counts in per_year.items():
        total = 0
        for year in sorted(counts):
            total += counts[year]
            if total >= threshold:
                out[code] = year
                break
    return out


def panel(seed: int = 42, effect: float = 0.0, scale: float = 1.0, first_year: int = 2016,
          last_year: int = 2025, municipalities: int | None = None, threshold: int = THRESHOLD):
    """The sample's impact panel as a data frame (columns of ``marts.mart_impact_panel``).

    Municipalities and the island; every year from the first outcome year to the last delivery
    year; covariates as ``dim_municipality`` has them (latest category, capacity group, PDET);
    outcomes ``mdm``, ``mdm_gestion``, ``mdm_resultados``, ``mdm_ordenamiento_territorial``
    (``indices.mdm_values``), ``idf`` and ``idf_bono_catastro`` (new methodology, 2020 on; missing
    where the sample publishes N.D.) and ``ipm`` (one census year, 2018).
    """
    import pandas as pd

    from sinfonia.sample import esap, indices, writers

    world = build_world(seed, first_year, last_year, municipalities)
    assistances = esap.simulate(world, scale)
    treated = treatment_years(world, assistances, threshold)
    mdm = indices.mdm_values(world, treated, effect)
    ipm = {code: v[0] for code, v in indices.ipm_values(world).items()}
    horizon = export_dates(world)[-1]
    delivered: dict[tuple[str, int], int] = Counter(
        (a.entity_code, a.delivered.year) for a in assistances
        if a.delivered and a.delivered <= horizon and not (a.cancelled and a.cancelled <= horizon))
    idf_years = {y for y, m in writers.idf_years(world) if m == "nueva"}
    years = range(first_year, max([y for _, y in delivered] + [last_year - 1]) + 1)
    latest_category = indices.category_years(world)[-1]
    rows = []
    for e in world.municipal:
        cumulative = 0
        category, group = world.category(e.code, latest_category), world.capacity_group(e.code)
        pdet = e.code in world.pdet
        for year in years:
            cumulative += delivered.get((e.code, year), 0)
            values = mdm.get((e.code, year), {})
            published = year in idf_years
            idf = (None if not published or writers._nd(world, e.code, year)
                   else round(writers.idf_score(world, e.code, year, "nueva"), 4))
            bonus = writers.bono_catastro(world, e.code, year) if published else None
            rows.append((e.code, year, cumulative, treated.get(e.code), threshold, pdet, category, group,
                         values.get("mdm"), values.get("gestion"), values.get("resultados"),
                         values.get("ot"), idf, bonus, ipm.get(e.code) if year == IPM_YEAR else None))
    return pd.DataFrame(rows, columns=["municipality_id", "year", "cumulative_delivered", "treatment_year",
                                       "threshold", "is_pdet", "category", "capacity_group", "mdm",
                                       "mdm_gestion", "mdm_resultados", "mdm_ordenamiento_territorial", "idf",
                                       "idf_bono_catastro", "ipm"])
