"""The sample's MDM, IPM, IMRC and category files, and the planted impact effect on MDM."""

import csv
from collections import Counter, defaultdict
from datetime import date

import pytest

from sinfonia.ingest.extract import discover, read_manifest
from sinfonia.ingest.sources import SOURCES
from sinfonia.sample import write_sample
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
    forms = defaultdict(set)
    for name, entry in mdm_files.items():
        assert date.fromisoformat(entry["published_on"]) == date(int(entry["period"]) + 1, 10, 31)
        forms[int(entry["period"])].add(name.rsplit(".", 1)[-1])
        if name.endswith(".json"):
            assert "nkjx-rsq7" in entry["origin"]
        else:  # DNP's release of October of Y+1, holding year Y only
            assert name.endswith(f"Base de datos - mdm (Oct {(int(entry['period']) + 1) % 100:02d}).xlsx")
    # One form per year: the API's pages up to 2020, DNP's workbook after.
    assert forms == {y: {"json"} if y <= 2020 else {"xlsx"} for y in range(2018, 2025)}
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


def test_sample_mdm_dimensions_average_to_their_component_and_keep_their_weaknesses(pair):
    a, _ = pair
    mdm = _mdm(a)
    dims = {"mdm_gestion": ("mdm_movilizacion", "mdm_ejecucion", "mdm_gobierno_abierto", "mdm_ordenamiento_territorial"),
            "mdm_resultados": ("mdm_educacion", "mdm_salud", "mdm_servicios", "mdm_seguridad")}
    rows = {(c, y) for c, y, i in mdm if i == "mdm_salud"}
    assert {y for _, y in rows} == {2021, 2022, 2023, 2024}  # the workbook years only
    for code, year in rows:
        for component, names in dims.items():
            values = [mdm[(code, year, n)] for n in names]
            assert all(0 <= v <= 100 for v in values)
            if 0 < min(values) and max(values) < 100:  # not clipped: the mean is the component
                assert sum(values) / 4 == pytest.approx(mdm[(code, year, component)], abs=2e-4)
    # A municipality's weakest dimension of gestión is mostly the same from one year to the next.
    codes = {c for c, _ in rows}
    weakest = {(c, y): min(dims["mdm_gestion"], key=lambda n: mdm[(c, y, n)]) for c, y in rows}
    same = sum(weakest[(c, 2023)] == weakest[(c, 2024)] for c in codes)
    assert same > 0.6 * len(codes)
