"""The sample's MDM, IPM, IMRC and category files, and the planted impact effect on MDM."""

import csv
from collections import Counter, defaultdict
from datetime import date

import pytest

from sinfonia.extract import discover, read_manifest
from sinfonia.sample import write_sample
from sinfonia.sources import SOURCES
from tests.helpers import landed


def _mdm(folder):
    out = {}
    for b in SOURCES["mdm"].parse([landed(p) for p in discover(folder, "mdm")]):
        assert not b.rejected and b.rows_read == len(b.rows)
        for r in b.rows:
            out[(r[4], int(r[2]), r[7])] = float(r[9])
    return out


def _treatment_from_export(folder, threshold=5):
    """Recomputed as the estimator will: latest export, delivered assistances by delivery year."""
    latest = sorted((folder / "esap").glob("asistencias_*.csv"))[-1]
    per = defaultdict(Counter)
    with open(latest, encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh, delimiter=";"):
            if row["Estado"] == "Entregada":
                d, m, y = row["Fecha Entrega Real"].split("/")
                per[row["Código DANE Municipio"]][int(y)] += 1
    treated = {}
    for code, counts in per.items():
        total = 0
        for year in sorted(counts):
            total += counts[year]
            if total >= threshold:
                treated[code] = year
                break
    return treated


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    a, b = tmp_path_factory.mktemp("effect0"), tmp_path_factory.mktemp("effect5")
    kwargs = dict(seed=9, scale=0.6, first_year=2018, last_year=2025, municipalities=150)
    write_sample(a, impact_effect=0.0, **kwargs)
    write_sample(b, impact_effect=5.0, **kwargs)
    return a, b


def test_impact_effect_adds_exactly_x_to_mdm_from_the_treatment_year(pair):
    a, b = pair
    base, shifted = _mdm(a), _mdm(b)
    assert base.keys() == shifted.keys()
    treated = _treatment_from_export(b)
    assert treated and set(treated.values()) <= {2023, 2024, 2025}
    moved = 0
    for (code, year, indicator), value in base.items():
        diff = shifted[(code, year, indicator)] - value
        if indicator == "mdm" and code in treated and year >= treated[code] and value <= 95:
            assert diff == pytest.approx(5.0, abs=1e-6)
            moved += 1
        elif indicator == "mdm" and code in treated and year >= treated[code]:
            assert 0 <= diff <= 5.0  # clipped at 100
        else:
            assert diff == 0  # untreated, pre-treatment years and the components never move
    assert moved > 0
    # Pre-treatment years exist for every cohort, post-treatment years for the 2023 and 2024 cohorts.
    years = {y for _, y, _ in base}
    assert min(years) < min(treated.values()) and max(years) == 2024


def test_manifest_records_mdm_publication_lag_and_one_mdm_form(pair):
    a, _ = pair
    manifest = read_manifest(a)
    mdm_files = {k: v for k, v in manifest.items() if v["source"] == "mdm"}
    assert mdm_files and all(k.endswith(".json") for k in mdm_files)  # Socrata pages only
    for entry in mdm_files.values():
        assert date.fromisoformat(entry["published_on"]) == date(int(entry["period"]) + 1, 10, 31)
        assert "nkjx-rsq7" in entry["origin"]
    for source in ("ipm", "imrc", "cgn_categories"):
        assert any(v["source"] == source for v in manifest.values()), source


def test_sample_indices_follow_the_latent_world(pair):
    a, _ = pair
    mdm = _mdm(a)
    [ipm, _privations] = SOURCES["ipm"].parse([landed(p) for p in discover(a, "ipm")])
    ipm_total = {r[4]: float(r[6]) for r in ipm.rows}
    cats = {}
    for b in SOURCES["cgn_categories"].parse([landed(p) for p in discover(a, "cgn_categories")]):
        if b.period == "2024":
            cats = {r[3]: r[7] for r in b.rows}
    imrc = {r[4]: float(r[7]) for b in SOURCES["imrc"].parse([landed(p) for p in discover(a, "imrc")])
            if b.period.endswith("deficit") for r in b.rows}
    sixth = [c for c, k in cats.items() if k == "6"]
    others = [c for c, k in cats.items() if k != "6"]
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    assert sixth and others
    assert mean([mdm[(c, 2023, "mdm")] for c in sixth]) < mean([mdm[(c, 2023, "mdm")] for c in others])
    assert mean([ipm_total[c] for c in sixth]) > mean([ipm_total[c] for c in others])
    assert mean([imrc[c] for c in sixth]) > mean([imrc[c] for c in others])
