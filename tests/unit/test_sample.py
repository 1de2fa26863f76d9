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
