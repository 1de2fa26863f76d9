import json

import pytest

from sinfonia.ingest.extract import discover
from sinfonia.ingest.landing import sha256_of
from sinfonia.ingest.sources import CATALOGUE, SOURCES
from sinfonia.sample import write_sample
from tests.helpers import landed


def _digests(folder):
    return {p.relative_to(folder).as_posix(): sha256_of(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def _csv_and_json_digests(folder):
    # xlsx files embed their creation time, so compare their parsed content instead
    return {k: v for k, v in _digests(folder).items() if not k.endswith(".xlsx")}


def test_sample_is_deterministic_for_a_seed(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for folder, seed in ((a, 1), (b, 1), (c, 2)):
        write_sample(folder, seed=seed, municipalities=60, first_year=2020, last_year=2024)
    assert _csv_and_json_digests(a) == _csv_and_json_digests(b)
    assert _csv_and_json_digests(a) != _csv_and_json_digests(c)
    rows = lambda f: [b.rows for b in SOURCES["idf"].parse([landed(p) for p in discover(f, "idf")])]  # noqa: E731
    strip = lambda rs: [[r[1:] for r in batch] for batch in rs]  # noqa: E731
    assert strip(rows(a)) == strip(rows(b))


@pytest.fixture(scope="module")
def national(tmp_path_factory):
    out = tmp_path_factory.mktemp("national")
    write_sample(out, seed=42)
    return out


def test_national_sample_has_the_real_universe_sizes(national):
    records = [r for p in sorted((national / "divipola").glob("*.json")) for r in json.loads(p.read_text())]
    assert len(records) == 1122
    types = {}
    for r in records:
        types[r["tipo_municipio"]] = types.get(r["tipo_municipio"], 0) + 1
    assert types == {"Municipio": 1102, "Isla": 1, "Área no municipalizada": 19}
    [pdet] = SOURCES["pdet"].parse([landed(p) for p in discover(national, "pdet")])
    assert len(pdet.rows) == 170 and len({r[2] for r in pdet.rows}) == 16


@pytest.mark.parametrize("spec", CATALOGUE, ids=lambda s: s.name)
def test_the_sample_has_files_of_every_source_and_each_parses_and_reconciles(national, spec):
    files = discover(national, spec.name)
    assert files, spec.name
    for batch in spec.parse([landed(p, spec.name) for p in files]):
        assert batch.rows_read == len(batch.rows) + len(batch.rejected)
        assert len(batch.rows) > 0


def test_sample_idf_has_both_layouts_and_methodologies(national):
    periods = {b.period for b in SOURCES["idf"].parse([landed(p) for p in discover(national, "idf")])}
    assert {"2019-anterior", "2021-anterior", "2021-nueva", "2024-nueva"} <= periods
    assert "2019-nueva" not in periods and "2022-anterior" not in periods


def test_sample_export_is_the_contract_csv(national):
    path = sorted((national / "esap").glob("asistencias_*.csv"))[-1]
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, ';'-separated, as Excel writes it
    header = raw[3:].decode("utf-8").splitlines()[0].split(";")
    assert header[:3] == ["ID Asistencia", "Vigencia", "Dirección Territorial"]
    [batch] = SOURCES["esap_asistencias"].parse([landed(path)])
    assert 1800 <= len(batch.rows) <= 1900 and not batch.rejected


def test_sample_files_say_they_are_synthetic(national):
    assert "SINTÉTICOS" in (national / "README.txt").read_text(encoding="utf-8")
    manifest = (national / "MANIFEST.csv").read_text(encoding="utf-8")
    assert "gdxc-w37w" in manifest and "published_on" in manifest.splitlines()[0]


def test_sample_divipola_carries_synthetic_coordinates_inside_colombia_and_says_so(national):
    from sinfonia.sample.geography import DEPARTMENT_CENTRES

    [batch] = SOURCES["divipola"].parse([landed(p) for p in discover(national, "divipola")])
    lat_at, lon_at = batch.columns.index("latitude") + 2, batch.columns.index("longitude") + 2  # after file, row
    by_department: dict[str, list[tuple[float, float]]] = {}
    for row in batch.rows:
        lat_text, lon_text = row[lat_at], row[lon_at]
        assert "," in lat_text and "." not in lat_text  # the Socrata export's decimal comma
        lat, lon = float(lat_text.replace(",", ".")), float(lon_text.replace(",", "."))
        assert -4.3 <= lat <= 16.0 and -82.0 <= lon <= -66.8, row
        by_department.setdefault(row[2 + batch.columns.index("department_code")], []).append((lat, lon))
    assert len(batch.rows) == 1122
    for dept, points in by_department.items():  # each department's points scatter around its own centre
        lat0, lon0, spread = DEPARTMENT_CENTRES[dept]
        if dept != "88":
            assert all(abs(lat - lat0) <= spread + 1e-6 for lat, _ in points), dept
    assert len({p for ps in by_department.values() for p in ps}) == 1122  # no two entities on one point
    assert "coordenadas" in (national / "README.txt").read_text(encoding="utf-8")


def test_sample_coordinates_depend_on_the_code_not_on_the_sample_size(tmp_path):
    from sinfonia.sample.geography import coordinates, universe

    small, full = universe(42, municipalities=60), universe(42)
    full_points, small_points = coordinates(full, 42), coordinates(small, 42)
    common = set(full_points) & set(small_points)
    assert len(common) >= 33  # at least every department's capital
    assert all(full_points[code] == small_points[code] for code in common)
    assert coordinates(full, 7) != full_points
