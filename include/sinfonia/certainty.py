"""How sure the prioritised list is: a Monte Carlo over defensible alternatives (OECD/JRC handbook).

The published list (DESIGN.md §6) rests on choices: the configured weights, percentile
normalisation and the latest vintage of each index. Each draw here makes the list again under a
defensible alternative to each choice, and the spread of a municipality's rank over the draws says
how much its place depends on them:

- weights: each configured weight multiplied by a factor drawn uniformly in [1 − δ, 1 + δ]
  (``weight_spread`` δ, default 0.25; weights of 0 stay 0);
- normalisation: one of ``normalisations`` (default percentiles, min–max and z-scores) drawn per
  draw and applied to every indicator;
- vintage: for each index, independently of the others, with probability ``previous_vintage_share``
  (default 0.25) the draw uses the previous published year of that index instead of the latest
  (one coin per index and draw, so a draw keeps every latest year with probability 0.75⁴; a
  municipality without a previous year keeps its latest value).

Per eligible municipality it returns the published rank, the median rank and its 5–95 % interval
over the draws, and the probability of being selected within its directorate's goal (selection as
in §6: within each directorate, in national rank order, up to the goal). Selections whose
probability lies between 0.2 and 0.8 are flagged uncertain. With no perturbation (δ = 0,
percentiles only, no previous vintage) every draw is the published list: the interval collapses to
the published rank and the probability is 0 or 1.

The seed and the number of draws are parameters and are recorded with the results, so a run can be
repeated exactly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

INDICATORS = ("mdm", "idf", "imrc", "ipm")
NORMALISATIONS = ("percentile", "minmax", "zscore")
UNCERTAIN = (0.2, 0.8)


@dataclass(frozen=True)
class Settings:
    draws: int = 1000
    seed: int = 20260115
    weight_spread: float = 0.25
    normalisations: tuple[str, ...] = NORMALISATIONS
    previous_vintage_share: float = 0.25

    def __post_init__(self):
        if self.draws < 1:
            raise ValueError(f"draws must be at least 1, got {self.draws}")
        if not 0 <= self.weight_spread < 1:
            raise ValueError(f"weight_spread must be in [0, 1), got {self.weight_spread}")
        unknown = set(self.normalisations) - set(NORMALISATIONS)
        if not self.normalisations or unknown:
            raise ValueError(f"normalisations must be among {', '.join(NORMALISATIONS)}; got {self.normalisations}")
        if not 0 <= self.previous_vintage_share <= 1:
            raise ValueError(f"previous_vintage_share must be in [0, 1], got {self.previous_vintage_share}")

    @classmethod
    def unperturbed(cls, draws: int = 10, seed: int = 0) -> Settings:
        return cls(draws=draws, seed=seed, weight_spread=0.0, normalisations=("percentile",),
                   previous_vintage_share=0.0)

    def record(self) -> dict:
        out = asdict(self)
        out["normalisations"] = list(self.normalisations)
        return out


def _percent_rank(values: np.ndarray) -> np.ndarray:
    """SQL's ``percent_rank`` over the non-missing values (ties share the lowest rank); NaN stays NaN."""
    out = np.full(values.shape, np.nan)
    present = ~np.isnan(values)
    n = int(present.sum())
    if n == 0:
        return out
    if n == 1:
        out[present] = 0.0
        return out
    ranks = pd.Series(values[present]).rank(method="min").to_numpy()
    out[present] = 100.0 * (ranks - 1) / (n - 1)
    return out


def normalise(values: np.ndarray, method: str) -> np.ndarray:
    """One indicator's need-oriented values, normalised among the municipalities that have it."""
    if method == "percentile":
        return _percent_rank(values)
    present = values[~np.isnan(values)]
    if present.size == 0:
        return np.full(values.shape, np.nan)
    if method == "minmax":
        low, high = present.min(), present.max()
        return np.where(np.isnan(values), np.nan, 0.0 if high == low else 100.0 * (values - low) / (high - low))
    if method == "zscore":
        sd = present.std()
        return np.where(np.isnan(values), np.nan, 0.0 if sd == 0 else (values - present.mean()) / sd)
    raise ValueError(f"unknown normalisation {method!r}; expected one of {', '.join(NORMALISATIONS)}")


def scores(needs: np.ndarray, weights: np.ndarray, method: str) -> np.ndarray:
    """Weighted mean of the normalised indicators each municipality has (§6); NaN when it has none."""
    normalised = np.column_stack([normalise(needs[:, j], method) for j in range(needs.shape[1])])
    has = ~np.isnan(normalised)
    num = np.where(has, normalised * weights, 0.0).sum(axis=1)
    den = np.where(has, weights, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def ranks(score: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """National ranks 1..n: score descending (rounded as the SQL rounds it), then id ascending."""
    key = np.where(np.isnan(score), -np.inf, np.round(score, 9))
    order = np.lexsort((ids, -key))
    out = np.empty(len(score), dtype=int)
    out[order] = np.arange(1, len(score) + 1)
    return out


def selected(rank: np.ndarray, directorates: np.ndarray, goals: np.ndarray) -> np.ndarray:
    """Within each directorate, the municipalities in rank order up to the directorate's goal."""
    order = np.argsort(rank, kind="stable")
    within = np.empty(len(rank), dtype=int)
    frame = pd.DataFrame({"d": directorates[order]})
    within[order] = frame.groupby("d").cumcount().to_numpy() + 1
    return within <= goals


def simulate(eligible: pd.DataFrame, weights: dict[str, float], goals: dict[str, int],
             settings: Settings = Settings()) -> pd.DataFrame:
    """The certainty of the list, one row per eligible municipality.

    ``eligible``: one row per eligible municipality with ``municipality_id``, ``directorate_id``,
    and for each indicator ``<i>_need`` (the need-oriented value of the latest vintage as of the
    run: 100 − mdm, 100 − idf, imrc, ipm) and ``<i>_need_previous`` (the year before it, or NaN).
    ``weights``: the configured weight of each indicator. ``goals``: the year's goal per directorate.
    """
    missing = [c for i in INDICATORS for c in (f"{i}_need", f"{i}_need_previous") if c not in eligible]
    missing += [c for c in ("municipality_id", "directorate_id") if c not in eligible]
    if missing:
        raise ValueError(f"certainty inputs lack the columns {', '.join(missing)}")
    bad = {i: w for i, w in weights.items() if not (w >= 0)}
    if bad or not any(weights.get(i, 0) > 0 for i in INDICATORS):
        raise ValueError(f"weights must be ≥ 0 with at least one positive; got {weights}")
    frame = eligible.sort_values("municipality_id").reset_index(drop=True)
    ids = frame.municipality_id.astype(str).to_numpy()
    directorates = frame.directorate_id.astype(str).fillna("").to_numpy()
    goal = np.array([int(goals.get(d, 0) or 0) for d in directorates])
    latest = frame[[f"{i}_need" for i in INDICATORS]].to_numpy(dtype=float)
    previous = frame[[f"{i}_need_previous" for i in INDICATORS]].to_numpy(dtype=float)
    base_weights = np.array([float(weights.get(i, 0.0)) for i in INDICATORS])

    published = ranks(scores(latest, base_weights, "percentile"), ids)
    published_selected = selected(published, directorates, goal)

    rng = np.random.default_rng(settings.seed)
    all_ranks = np.empty((settings.draws, len(ids)), dtype=int)
    all_selected = np.empty((settings.draws, len(ids)), dtype=bool)
    for d in range(settings.draws):
        factors = rng.uniform(1 - settings.weight_spread, 1 + settings.weight_spread, len(INDICATORS))
        method = settings.normalisations[rng.integers(len(settings.normalisations))]
        use_previous = rng.random(len(INDICATORS)) < settings.previous_vintage_share
        needs = latest.copy()
        for j in np.flatnonzero(use_previous):
            needs[:, j] = np.where(np.isnan(previous[:, j]), latest[:, j], previous[:, j])
        r = ranks(scores(needs, base_weights * factors, method), ids)
        all_ranks[d] = r
        all_selected[d] = selected(r, directorates, goal)

    probability = all_selected.mean(axis=0)
    out = pd.DataFrame({
        "municipality_id": ids,
        "published_rank": published,
        "is_selected": published_selected,
        "rank_median": np.median(all_ranks, axis=0),
        "rank_p05": np.percentile(all_ranks, 5, axis=0, method="lower"),
        "rank_p95": np.percentile(all_ranks, 95, axis=0, method="higher"),
        "selection_probability": probability,
    })
    out["is_uncertain"] = (probability >= UNCERTAIN[0]) & (probability <= UNCERTAIN[1])
    out["draws"] = settings.draws
    out["seed"] = settings.seed
    return out


# ---------------------------------------------------------------------------------------------
# The warehouse side: inputs from the year's computed list, results beside the snapshot.

TABLE = "intermediate.prioritisation_certainty"  # the dbt source of mart_prioritisation_certainty
CANDIDATE = "intermediate.int_prioritisation__candidate"

DDL = f"""
create table if not exists {TABLE} (
    prioritisation_year   integer not null,
    municipality_id       text not null,
    published_rank        integer not null,
    rank_median           double precision not null,
    rank_p05              integer not null,
    rank_p95              integer not null,
    selection_probability double precision not null,
    is_uncertain          boolean not null,
    draws                 integer not null,
    seed                  bigint not null,
    settings              jsonb not null,
    computed_at           timestamptz not null default now(),
    primary key (prioritisation_year, municipality_id)
)
"""

# The need-oriented value of each index (DESIGN.md §6) from its published value.
NEED = {"mdm": "100 - {v}", "idf": "100 - {v}", "imrc": "{v}", "ipm": "{v}"}


def read_inputs(conn, year: int) -> tuple[pd.DataFrame, dict[str, float], dict[str, int]]:
    """The eligible municipalities of the year's computed list, with the latest and the previous
    vintage of each index published by the as-of date; the weights; the directorates' goals."""
    from psycopg import sql

    cur = conn.execute(sql.SQL("""
        with c as (select * from {candidate} where prioritisation_year = %(year)s and is_eligible),
        rule as (select lower(trim(value)) as component from seeds.prioritisation_rules
                 where rule = 'imrc_component'),
        prev as (
            select distinct on (c.municipality_id, x.indicator)
                c.municipality_id, x.indicator, x.value::float8 as value
            from c
            join marts_build.fct_municipal_indicator x on x.municipality_id = c.municipality_id
             and x.published_on <= c.as_of_date and x.value is not null
             and ((x.indicator = 'mdm' and x.year < c.mdm_year) or (x.indicator = 'idf' and x.year < c.idf_year)
               or (x.indicator = 'ipm' and x.year < c.ipm_year)
               or (x.indicator in ('imrc_exceso', 'imrc_deficit') and x.year < c.imrc_year))
            order by c.municipality_id, x.indicator, x.year desc
        )
        select c.municipality_id, c.directorate_id, c.directorate_goal,
               c.mdm_value, c.idf_value, c.imrc_value, c.ipm_value,
               max(p.value) filter (where p.indicator = 'mdm') as mdm_previous,
               max(p.value) filter (where p.indicator = 'idf') as idf_previous,
               max(p.value) filter (where p.indicator = 'ipm') as ipm_previous,
               case (select component from rule)
                   when 'exceso' then max(p.value) filter (where p.indicator = 'imrc_exceso')
                   when 'deficit' then max(p.value) filter (where p.indicator = 'imrc_deficit')
                   else greatest(max(p.value) filter (where p.indicator = 'imrc_exceso'),
                                 max(p.value) filter (where p.indicator = 'imrc_deficit'))
               end as imrc_previous
        from c left join prev p using (municipality_id)
        group by c.municipality_id, c.directorate_id, c.directorate_goal,
                 c.mdm_value, c.idf_value, c.imrc_value, c.ipm_value
        """).format(candidate=sql.Identifier(*CANDIDATE.split("."))), {"year": year})
    names = [d.name for d in cur.description]
    frame = pd.DataFrame(cur.fetchall(), columns=names)
    for i in INDICATORS:
        for suffix, col in (("need", f"{i}_value"), ("need_previous", f"{i}_previous")):
            values = pd.to_numeric(frame[col], errors="coerce").astype(float)
            frame[f"{i}_{suffix}"] = 100 - values if NEED[i].startswith("100") else values
    weights = {str(k).strip().lower(): float(v) for k, v in
               conn.execute("select indicator, weight from seeds.prioritisation_weights")}
    goals = {d: int(g or 0) for d, g in frame[["directorate_id", "directorate_goal"]].drop_duplicates()
             .itertuples(index=False)}
    return frame, weights, goals


def run(dsn: str, year: int, write: bool, settings: Settings = Settings()) -> dict:
    """Compute the year's certainty and store it in ``TABLE`` (replacing that year) when the
    snapshot writes the year (``write``); a year the snapshot keeps keeps its certainty too."""
    from psycopg import sql
    from psycopg.types.json import Jsonb

    from sinfonia import db

    table = sql.Identifier(*TABLE.split("."))
    with db.connect(dsn) as conn:
        conn.execute(DDL)
        if not write:
            conn.commit()
            return {"year": year, "status": "kept"}
        frame, weights, goals = read_inputs(conn, year)
        result = simulate(frame, weights, goals, settings) if len(frame) else frame.iloc[0:0]
        conn.execute(sql.SQL("delete from {} where prioritisation_year = %s").format(table), (year,))
        if len(result):
            with conn.cursor() as cur:
                cur.executemany(
                    sql.SQL("insert into {} (prioritisation_year, municipality_id, published_rank, rank_median, "
                            "rank_p05, rank_p95, selection_probability, is_uncertain, draws, seed, settings) "
                            "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)").format(table),
                    [(year, r.municipality_id, int(r.published_rank), float(r.rank_median), int(r.rank_p05),
                      int(r.rank_p95), float(r.selection_probability), bool(r.is_uncertain), settings.draws,
                      settings.seed, Jsonb(settings.record())) for r in result.itertuples(index=False)])
        conn.commit()
    uncertain = int(result["is_uncertain"].sum()) if len(result) else 0
    return {"year": year, "status": "written", "municipalities": len(result), "uncertain": uncertain,
            "draws": settings.draws, "seed": settings.seed}
