"""The planted impact: which sample municipalities are treated, from which year.

A municipality is *treated* from the first calendar year in which its cumulative count of
DELIVERED assistances, counted by the year of the delivery date, reaches ``THRESHOLD`` (5).
Only deliveries the sample's exports show are counted (delivered on or before the last export
date), so the rule recomputed from ``marts.fct_technical_assistance`` (``is_delivered``,
``delivered_date``) gives the same years. ``sinfonia sample --impact-effect X`` then adds ``X``
points to that municipality's MDM total in every year on or after its treatment year (see
``sample.indices.mdm_values``); nothing else moves.
"""

from __future__ import annotations

from collections import Counter

from sinfonia.sample.esap import Assistance, export_dates
from sinfonia.sample.model import World

THRESHOLD = 5


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
