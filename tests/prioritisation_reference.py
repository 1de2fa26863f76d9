"""An independent recomputation of the prioritisation (DESIGN.md §6) in pandas, for the tests.

Written from the text of §6, not from the SQL: it reads ``fct_municipal_indicator``,
``dim_municipality`` (where dbt built them: ``marts_build``) and the goals, and returns one row per municipality of the universe.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import psycopg
from psycopg import sql

INDICATORS = ("mdm", "idf", "imrc", "ipm")


def percent_rank(values: pd.Series) -> pd.Series:
    """SQL's percent_rank: (rank - 1) / (n - 1), ties share the lowest rank; 0 when n == 1."""
    n = len(values)
    if n <= 1:
        return pd.Series(0.0, index=values.index)
    return (values.rank(method="min") - 1) / (n - 1)


def recompute(dsn: str, year: int, as_of: date, weights: dict[str, float] | None = None,
              categories=("5", "6"), schema: str = "marts_build") -> pd.DataFrame:
    weights = weights or {i: 1.0 for i in INDICATORS}
    with psycopg.connect(dsn) as conn:
        dim = pd.DataFrame(conn.execute(
            sql.SQL("select municipality_id, entity_type, directorate_id, is_pdet from {}")
            .format(sql.Identifier(schema, "dim_municipality"))).fetchall(),
            columns=["municipality_id", "entity_type", "directorate_id", "is_pdet"])
        ind = pd.DataFrame(conn.execute(
            sql.SQL("select municipality_id, indicator, year, value::float8, value_label, published_on from {}")
            .format(sql.Identifier(schema, "fct_municipal_indicator"))).fetchall(),
            columns=["municipality_id", "indicator", "year", "value", "value_label", "published_on"])
        goals = dict(conn.execute("select directorate_id, sum(goal) from intermediate.int_goals__resolved "
                                  "where goal_year = %s group by 1", (year,)).fetchall())
    df = dim[dim.entity_type.isin(["municipio", "isla"])].set_index("municipality_id").sort_index()
    pub = ind[ind.published_on <= as_of]

    cat = pub[(pub.indicator == "category") & (pub.year <= year) & pub.value_label.notna()]
    cat = cat.sort_values("year").groupby("municipality_id").last()
    df["category"] = cat.value_label
    df["is_eligible"] = df.is_pdet.fillna(False).astype(bool) | df.category.isin(categories)

    vals = pub[pub.value.notna()].sort_values("year").groupby(["municipality_id", "indicator"]).last()
    def latest(code):
        try:
            return vals.xs(code, level="indicator")
        except KeyError:
            return pd.DataFrame(columns=["year", "value"])
    need = {}
    for code, flip in (("mdm", True), ("idf", True), ("ipm", False)):
        v = latest(code)
        df[f"{code}_value"] = v.value
        df[f"{code}_year"] = v.year
        need[code] = 100 - df[f"{code}_value"] if flip else df[f"{code}_value"]
    ex, de = latest("imrc_exceso"), latest("imrc_deficit")
    both = pd.DataFrame({"ex": ex.value, "de": de.value, "exy": ex.year, "dey": de.year}).reindex(df.index)
    df["imrc_value"] = both[["ex", "de"]].max(axis=1)
    df["imrc_year"] = both.exy.where(both.de.isna() | (both.ex >= both.de), both.dey)
    need["imrc"] = df.imrc_value

    elig = df.is_eligible
    num = pd.Series(0.0, index=df.index)
    den = pd.Series(0.0, index=df.index)
    for i in INDICATORS:
        has = elig & need[i].notna()
        df[f"{i}_percentile"] = 100 * percent_rank(need[i][has])
        num = num.add(weights[i] * df[f"{i}_percentile"], fill_value=0)
        den = den.add((weights[i] * df[f"{i}_percentile"].notna()).astype(float), fill_value=0)
    df["need_score"] = (num / den.replace(0, float("nan"))).where(elig)
    for i in INDICATORS:
        df[f"{i}_contribution"] = weights[i] * df[f"{i}_percentile"] / den.replace(0, float("nan"))
    df["indicators_missing"] = [", ".join(i for i in INDICATORS if pd.isna(r[f"{i}_value"]))
                                for _, r in df.iterrows()]

    e = df[elig].reset_index()
    e["_score"] = e.need_score.round(9).fillna(-1.0)  # as the SQL rounds it before ranking
    e = e.sort_values(["_score", "municipality_id"], ascending=[False, True]).reset_index(drop=True)
    e["national_rank"] = range(1, len(e) + 1)
    n = len(e)
    # ntile(5): the first n % 5 buckets get one more row.
    size, extra = divmod(n, 5)
    tiers = []
    for t in range(1, 6):
        tiers += [t] * (size + (1 if t <= extra else 0))
    e["tier"] = tiers[:n]
    e["directorate_rank"] = e.groupby("directorate_id").cumcount() + 1
    e["is_selected"] = e.directorate_rank <= e.directorate_id.map(lambda d: goals.get(d, 0))
    df = df.join(e.set_index("municipality_id")[["national_rank", "directorate_rank", "tier", "is_selected"]])
    df["is_selected"] = df.is_selected.fillna(False).astype(bool)
    return df
