"""ESAP equipos: pseudonymised before landing, parsed only pseudonymised, groups understood."""

import csv
import re

import pytest

from sinfonia.ingest import pii
from sinfonia.ingest.sources import esap_equipos
from sinfonia.sample import esap
from sinfonia.sample.model import build_world
from tests.helpers import landed

HEADER = ["Vigencia", "Dirección Territorial", "Equipo", "Documento", "Nombre", "Rol", "Grupo Poblacional"]
PEOPLE = [
    [2024, "Dirección Territorial Cauca", "Equipo CAU 1", "1.061.234.567", "Rosa Mosquera Palacios",
     "Profesional", "Afrodescendiente/Raizal/Palenquero; Víctima del conflicto"],
    [2024, "Dirección Territorial Cauca", "Equipo CAU 1", "34567890", "Pedro Yule Campo", "profesional", "Indígena | LGBTIQ+"],
    [2024, "Dirección Territorial Cauca", "Equipo CAU 1", "1061234567", "Rosa M. Palacios", "Profesional", "Ninguno"],
    [2025, "Dirección Territorial Cauca", "Equipo CAU 2", "1122334455", "Ana Ruiz", "Estudiante", "migrante, persona con discapacidad"],
    [2025, "Dirección Territorial Cauca", "Equipo CAU 2", "", "Sin Documento", "Estudiante", "Ninguno"],
    [2025, "Dirección Territorial Cauca", "Equipo CAU 2", "99887766", "Luis Pérez", "Contratista", "Ninguno"],
    [2025, "Dirección Territorial Cauca", "Equipo CAU 2", "55443322", "Eva Gil", "Profesional", "Ninguno; Migrante"],
    [2025, "Dirección Territorial Cauca", "Equipo CAU 2", "66554433", "Tito Paz", "Profesional", "zurdo"],
]


@pytest.fixture
def export(tmp_path):
    path = tmp_path / "equipos_2024.csv"
    with open(path, "w", newline="", encoding="utf-8-sig") as fh:
        csv.writer(fh, delimiter=";").writerows([HEADER, *PEOPLE])
    return path


def pseudonymised(export, tmp_path):
    name, content = esap_equipos.prepare_for_landing(export)
    out = tmp_path / "landed"
    out.mkdir(exist_ok=True)
    (out / name).write_bytes(content)
    return out / name, content


def test_landing_copy_has_keyed_hashes_and_no_document_or_name(export, tmp_path):
    path, content = pseudonymised(export, tmp_path)
    text = content.decode("utf-8")
    assert path.name == f"equipos_2024.clave-{pii.key_mark()}.seudonimizado.csv"
    for row in PEOPLE:
        assert row[4] not in text
        digits = re.sub(r"\D", "", row[3])
        if digits:
            assert digits not in text and row[3] not in text
    # The same document written two ways gives the same pseudonym, which is the keyed hash.
    expected = pii.pseudonym("1061234567")
    assert text.count(expected) == 2
    assert "Nombre" not in text.splitlines()[0]


def test_without_the_key_nothing_is_read_and_the_error_says_what_to_set(export, monkeypatch):
    monkeypatch.delenv(pii.KEY_ENV, raising=False)
    with pytest.raises(pii.MissingKeyError, match="SINFONIA_PII_KEY is not set.*Ley 1581"):
        esap_equipos.prepare_for_landing(export)
    monkeypatch.setenv(pii.KEY_ENV, "short")
    with pytest.raises(pii.MissingKeyError, match="too short"):
        esap_equipos.prepare_for_landing(export)


@pytest.mark.parametrize("weak,why", [
    (" " * 16, "too short"), ("\t" * 40, "too short"), ("  short-key  " + " " * 8, "too short"),
    ("a" * 32, "too weak"), ("abab" * 8, "too weak"), ("12345" * 6, "too weak"),
])
def test_a_weak_key_is_refused_before_anything_is_read(export, monkeypatch, weak, why):
    monkeypatch.setenv(pii.KEY_ENV, weak)
    with pytest.raises(pii.MissingKeyError, match=f"SINFONIA_PII_KEY is {why}"):
        esap_equipos.prepare_for_landing(export)


def test_a_different_key_gives_different_pseudonyms(monkeypatch):
    a = pii.pseudonym("1061234567")
    monkeypatch.setenv(pii.KEY_ENV, "another-local-key-for-this-test")
    assert pii.pseudonym("1061234567") != a and len(a) == 64


def test_parse_loads_into_restricted_one_batch_per_year_and_explains_bad_rows(export, tmp_path):
    path, _ = pseudonymised(export, tmp_path)
    batches = {b.period: b for b in esap_equipos.parse([landed(path)])}
    assert set(batches) == {"2024", "2025"} and {b.schema for b in batches.values()} == {"restricted"}
    rows = [dict(zip(esap_equipos.COLUMNS, r[2:], strict=False)) for r in batches["2024"].rows]
    assert [(r["role"], r["population_groups"]) for r in rows] == [
        ("profesional", "afro;conflict_victim"), ("profesional", "indigenous;lgbtiq")]
    assert [r[2:][5] for r in batches["2025"].rows] == ["disability;migrant"]
    reasons = {(r.row_number, r.column): r.reason for b in batches.values() for r in b.rejected}
    # the row contract's wordings (sources.contract); the duplicate's key is withheld (a pseudonym)
    assert reasons[(4, "Documento")] == "duplicate Vigencia, Dirección Territorial, Equipo and Documento: first at row 2"
    assert "document number missing" in reasons[(6, "Documento")]
    assert reasons[(7, "Rol")] == "expected one of profesional, estudiante"
    assert "cannot be combined" in reasons[(8, "Grupo Poblacional")]
    assert reasons[(9, "Grupo Poblacional")].startswith("unknown group (value withheld")
    assert sum(b.rows_read for b in batches.values()) == len(PEOPLE)
    # Quarantine lives in meta (not restricted): no document, name, pseudonym or group there.
    quarantined = str([(r.value, r.reason, r.record) for b in batches.values() for r in b.rejected])
    assert not any(p[4] in quarantined or (p[3] and p[3] in quarantined) for p in PEOPLE)
    assert "zurdo" not in quarantined and "Migrante" not in quarantined
    assert not re.search(r"[0-9a-f]{64}", quarantined)


def test_parse_refuses_an_export_that_was_not_pseudonymised(export):
    with pytest.raises(ValueError, match="personal data"):
        esap_equipos.parse([landed(export)])


def test_sample_teams_match_the_assistances_and_about_18_percent_are_under_represented():
    world = build_world(7, 2019, 2025, 120)
    rows = esap.team_rows(world)
    teams = {r[2] for r in rows}
    assisted = {a.team for a in esap.simulate(world, 0.2)}
    assert assisted <= teams
    assert all(re.fullmatch(r"Equipo [A-Z]{3} [1-4]", t) for t in teams)
    professionals = [r for r in rows if r[5] == "Profesional"]
    share = sum(r[6] != "Ninguno" for r in professionals) / len(professionals)
    assert 0.14 < share < 0.22


def test_a_roster_landed_under_another_key_is_named_in_the_load(export, tmp_path, monkeypatch):
    first, _ = pseudonymised(export, tmp_path)
    monkeypatch.setenv(pii.KEY_ENV, "another-local-key-for-this-test")
    second = landed(export, source="esap_equipos")
    assert second.file_name != first.name and second.file_name.endswith(esap_equipos.LANDED_SUFFIX)
    [notice] = esap_equipos.key_change([first.name, second.file_name], [second])
    assert notice.startswith(f"SINFONIA_PII_KEY is not the key that pseudonymised earlier rosters ({first.name})")
    assert "restore it and extract again" in notice
    # the same key as every earlier roster (or no earlier roster): nothing to say
    assert esap_equipos.key_change([second.file_name], [second]) == []
    assert esap_equipos.key_change([], [second]) == []


def test_landing_pseudonymises_the_bytes_it_checked_without_reading_the_path_again(export, tmp_path):
    data = export.read_bytes()
    export.write_text("Vigencia;Otra cosa\n2024;x\n", encoding="utf-8")  # replaced after the check
    name, content = esap_equipos.prepare_for_landing(export, data)
    assert content == esap_equipos.prepare_for_landing(tmp_path / "equipos_2024.csv", data)[1]
    assert pii.pseudonym("34567890").encode() in content and name.startswith("equipos_2024.clave-")
