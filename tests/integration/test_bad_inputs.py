"""A corpus of bad inputs, each through the real extractor into a throwaway warehouse.

Every case starts from a warehouse already holding good loads (DIVIPOLA, IDF 2023, one ESAP
export), then extracts one bad file. Each case ends in one of three documented ways:

- ``error``: a clear error naming the file (and what was expected); the warehouse is otherwise
  unchanged: every raw table, ``meta.load_run`` and ``meta.quarantine`` identical before/after
  (the landing zone keeps the bad file as evidence, by design);
- ``quarantined``: the load succeeds and the bad row sits in ``meta.quarantine`` with its file,
  row, column and reason;
- ``repaired``: a known publisher quirk (a code stored as a number, a decimal comma, Latin-1, a
  moved header row, a leading column, footnotes) is read correctly, and the value is checked.

Decision (ESAP): an assistance whose ``Fecha Entrega Real`` is after the export date is
quarantined: an export records what has happened; planned dates may lie in the future.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from sinfonia import config, db, gates
from sinfonia.bootstrap import bootstrap
from sinfonia.ingest.extract import extract, extract_folder
from sinfonia.ingest.sources import CATALOGUE
from sinfonia.sample.writers import ASISTENCIAS_HEADER
from tests.conftest import sinfonia
from tests.corpus import (
    DIVIPOLA_ROWS,
    HTML_PAGE,
    IDF_ROWS,
    divipola_csv,
    idf_book,
    inflating_book,
    pdet_book,
    roster_book,
    roster_csv,
    symlink,
    write_json,
)
from tests.unit.test_esap_asistencias import GOOD, with_, write

pytestmark = pytest.mark.integration


@dataclass
class Case:
    id: str
    source: str
    make: Callable[[Path], Path]
    error: str | None = None  # a regex the error message must match
    quarantined: tuple[str, int, str] | None = None  # column, row number, reason regex
    check: tuple[str, object] | None = None  # SQL returning one value, the value expected


def _idf_with(**changes) -> list[list]:
    """IDF rows with the first row's cells changed (by header position)."""
    rows = [list(r) for r in IDF_ROWS]
    for index, value in changes.items():
        rows[0][int(index[1:])] = value
    return rows


def _truncated(folder: Path) -> Path:
    path = idf_book(folder)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _without(header: str) -> Callable[[Path], Path]:
    i = ASISTENCIAS_HEADER.index(header)
    return lambda d: write(d, [GOOD[:i] + GOOD[i + 1:]],
                           header=ASISTENCIAS_HEADER[:i] + ASISTENCIAS_HEADER[i + 1:])


def _file(name: str, data: bytes) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        (folder / name).write_bytes(data)
        return folder / name
    return make


def _esap(**changes) -> Callable[[Path], Path]:
    return lambda d: write(d, [with_(ID_Asistencia="AT-9", **changes)])


SCORE = "select idf_score from raw.idf where municipality_code = '05001' and year = '2023'"
CASES = [
    # -- clear errors: the file cannot be read as the source it claims to be ----------------------
    # The table is found by content (any sheet name); only code and score are required (issue 15).
    Case("renamed-sheet", "idf", lambda d: idf_book(d, _idf_with(c3=71.25), sheet="Hoja1"), check=(SCORE, "71.25")),
    Case("optional-column-absent", "idf", lambda d: idf_book(d, header=["Código", "Departamento", "Municipio", "Nuevo IDF", "Observación"]),
         check=("select count(*) || ' ' || count(range_label) from raw.idf", "3 0")),
    Case("missing-score-column", "idf", lambda d: idf_book(d, header=["Código", "Departamento", "Municipio", "Puntaje", "Rango"]),
         error=r"lacks idf_score"),
    Case("truncated-xlsx", "idf", _truncated, error=r"not a readable Excel workbook.*truncated or corrupt"),
    Case("html-error-page-saved-as-xlsx", "idf", _file("ResultadosIDF_2023.xlsx", HTML_PAGE), error=r"an HTML page, not an Excel workbook"),
    Case("empty-xlsx", "idf", _file("ResultadosIDF_2023.xlsx", b""), error=r"empty file; expected an Excel workbook"),
    Case("empty-csv", "divipola", _file("DIVIPOLA.csv", b"\xef\xbb\xbf\r\n"), error=r"empty file; expected a delimited text file"),
    Case("json-page-not-an-array", "divipola", lambda d: write_json(d / "gdxc-w37w-page-0001.json", {"error": True, "message": "query timeout"}),
         error=r"expected a JSON array of records.*found a JSON dict"),
    Case("json-page-truncated", "divipola", _file("gdxc-w37w-page-0001.json", b'[{"cod_dpto": "05", "cod_mpio": "05001"'),
         error=r"not valid JSON"),
    Case("html-error-page-saved-as-csv", "esap_asistencias", _file("asistencias_20240701.csv", HTML_PAGE), error=r"an HTML page"),
    Case("esap-missing-column", "esap_asistencias", _without("Estado"), error=r"lacks status \(one of \['estado'\]\)"),
    # (new content: the same bytes as a file already loaded would be skipped without parsing)
    Case("esap-no-export-date", "esap_asistencias",
         lambda d: write(d, [GOOD, with_(ID_Asistencia="AT-NEW")], name="asistencias.csv"),
         error=r"cannot tell the export date"),
    # -- quarantined rows, with file, row, column and reason -------------------------------------------
    Case("duplicate-code", "idf", lambda d: idf_book(d, [*IDF_ROWS, ["5001", "ANTIOQUIA", "MEDELLÍN", 70.0, "4. Solvente"]]),
         quarantined=("Código", 11, r"duplicate municipality code 05001: first at row 8")),
    Case("six-digit-code", "idf", lambda d: idf_book(d, _idf_with(c0=123456)), quarantined=("Código", 8, r"found 6 digits")),
    # A well-formed code that is not in DIVIPOLA (any edition loaded): quarantined at extract (issue 15).
    Case("code-not-in-divipola", "idf", lambda d: idf_book(d, _idf_with(c0=99999)),
         quarantined=("Código", 8, r"^code 99999 does not resolve to DIVIPOLA \(in no edition of raw.divipola: current\)$")),
    Case("pdet-code-not-in-divipola", "pdet", lambda d: pdet_book(d, [["Catatumbo", 54, "Norte de Santander", 54810, "Tibú"]]),
         quarantined=("Código DANE Municipio", 2, r"^code 54810 does not resolve to DIVIPOLA")),
    Case("text-in-a-score-cell", "idf", lambda d: idf_book(d, _idf_with(c3="N.D.")), quarantined=("Nuevo IDF", 8, r"expected a number")),
    Case("divipola-duplicate-code", "divipola", lambda d: divipola_csv(d, [*DIVIPOLA_ROWS, ["05", "05001", "ANTIOQUIA", "MEDELLIN", "Municipio"]]),
         quarantined=("Código Municipio", 7, r"^duplicate municipality code 05001: first at row 2$")),
    Case("divipola-unknown-entity-type", "divipola", lambda d: divipola_csv(d, [*DIVIPOLA_ROWS, ["05", "05004", "ANTIOQUIA", "ABRIAQUÍ", "Corregimiento"]]),
         quarantined=("Tipo: Municipio / Isla / Área no municipalizada", 7,
                      r"^expected one of Municipio, Isla, Área no municipalizada$")),
    Case("delivered-date-in-the-future", "esap_asistencias", _esap(**{"Fecha Entrega Real": "15/07/2024"}),
         quarantined=("Fecha Entrega Real", 2, r"after the export date \(2024-07-01\)")),
    Case("dates-out-of-order", "esap_asistencias", _esap(**{"Fecha Plan de Acción": "01/02/2024"}),
         quarantined=("Fecha Plan de Acción", 2, r"date before Fecha Concertación")),
    Case("unknown-status", "esap_asistencias", _esap(Estado="Terminada"), quarantined=("Estado", 2, r"expected one of Programada")),
    Case("text-in-an-esap-score", "esap_asistencias", _esap(**{"Calificación Calidad": "bueno"}),
         quarantined=("Calificación Calidad", 2, r"^expected an integer$")),
    Case("decimal-comma-in-an-integer-score", "esap_asistencias", _esap(**{"Calificación Calidad": "4,5"}),
         quarantined=("Calificación Calidad", 2, r"^expected an integer$")),
    Case("impossible-date", "esap_asistencias", _esap(**{"Fecha Concertación": "31/02/2024"}),
         quarantined=("Fecha Concertación", 2, r"^expected a date dd/mm/yyyy or yyyy-mm-dd$")),
    # a list of every municipality: a blank subregion is not PDET, counted in the message, not quarantined
    Case("pdet-list-of-every-municipality", "pdet", lambda d: pdet_book(d, [["Alto Patía y Norte del Cauca", 19, "Cauca", 19050, "Argelia"], [None, 5, "Antioquia", 5001, "Medellín"]]),
         check=("select message || ' / ' || notes_skipped || ' / ' || (select string_agg(municipality_code, ',') from raw.pdet) "
                "from meta.load_run where source = 'pdet'",
                "1 municipalities without a PDET subregion: not PDET, not loaded (1 PDET municipalities loaded) / 1 / 19050")),
    # -- publisher quirks read correctly ------------------------------------------------------------
    Case("code-stored-as-a-number", "idf", lambda d: idf_book(d, _idf_with(c0=5001)),
         check=("select municipality_code from raw.idf where idf_score = '78.5556'", "05001")),
    Case("pdet-codes-as-integers", "pdet", lambda d: pdet_book(d, [["Alto Patía y Norte del Cauca", 19, "Cauca", 19050, "Argelia"]]),
         check=("select municipality_code || '/' || department_code from raw.pdet", "19050/19")),
    Case("decimal-comma", "idf", lambda d: idf_book(d, _idf_with(c3="78,5556")), check=(SCORE, "78.5556")),
    Case("header-row-moved", "idf", lambda d: idf_book(d, header_row=10), check=(SCORE, "78.5556")),
    Case("extra-leading-column", "idf", lambda d: idf_book(d, lead=True), check=(SCORE, "78.5556")),
    Case("footnotes", "idf", lambda d: idf_book(d, footnotes=["Fuente: DDDR-DNP.", "7/ Indicador de desempeño fiscal: escala 0 a 100"]),
         check=("select notes_skipped || '/' || rows_quarantined from meta.load_run where source = 'idf'", "2/0")),
    Case("latin-1", "divipola", lambda d: divipola_csv(d, encoding="latin-1"),
         check=("select municipality_name from raw.divipola where municipality_code = '05001'", "MEDELLÍN")),
    Case("semicolon-and-bom", "divipola", lambda d: divipola_csv(d, delimiter=";", encoding="utf-8-sig"),
         check=("select count(*) || ' ' || min(department_name) from raw.divipola", "5 ANTIOQUIA")),
]


@dataclass
class Refused:
    """A sources folder holding one hostile file: refused on discovery, before landing."""

    id: str
    source: str
    make: Callable[[Path], Path]  # writes into the sources folder; returns the offending path
    error: str  # a regex the error message must match
    env: dict | None = None


def _esap_rows(rows: list) -> Callable[[Path], Path]:
    def make(root: Path) -> Path:
        (root / "esap").mkdir(parents=True, exist_ok=True)
        return write(root / "esap", rows)
    return make


def _roster_in_esap(name: str) -> Callable[[Path], Path]:
    return lambda root: roster_csv(root / "esap" / name)


def _linked_to_outside_csv(root: Path) -> Path:
    (root.parent / "elsewhere").mkdir()
    outside = write(root.parent / "elsewhere", [GOOD])
    return symlink(root / "esap" / "asistencias_20240801.csv", outside)


def _in_a_linked_folder(root: Path) -> Path:
    outside = root.parent / "elsewhere-folder"
    outside.mkdir()
    write(outside, [with_(ID_Asistencia="AT-OUT")], name="asistencias_20240901.csv")
    symlink(root / "esap", outside)
    return root / "esap" / "asistencias_20240901.csv"


def _manifest_with(date_text: str) -> Callable[[Path], Path]:
    def make(root: Path) -> Path:
        divipola_csv(root / "divipola")
        (root / "MANIFEST.csv").write_text(
            f"file,source,period,published_on,origin\ndivipola/DIVIPOLA.csv,divipola,,{date_text},DANE\n",
            encoding="utf-8")
        return root / "MANIFEST.csv"
    return make


REFUSED = [
    Refused("symlink-to-etc-passwd", "esap_asistencias",
            lambda root: symlink(root / "esap" / "asistencias_20240201.csv", Path("/etc/passwd")),
            r"asistencias_20240201.csv: a symbolic link \(to /etc/passwd\); expected a regular file"),
    Refused("symlink-to-a-csv-outside", "esap_asistencias", _linked_to_outside_csv, r"a symbolic link"),
    Refused("file-in-a-linked-folder-outside", "esap_asistencias", _in_a_linked_folder,
            r"asistencias_20240901.csv: resolves to .*elsewhere-folder.*outside the sources folder"),
    Refused("roster-named-as-assistances", "esap_asistencias", _roster_in_esap("asistencias_20240701.csv"),
            r"asistencias_20240701.csv: row 1 holds personal data \(columns Documento, Nombre\).*nothing was stored"),
    Refused("roster-workbook-named-as-idf", "idf", lambda root: roster_book(root / "idf" / "ResultadosIDF_2023.xlsx"),
            r"ResultadosIDF_2023.xlsx: sheet 'Sheet', row 3 holds personal data \(columns Documento, Nombre\)"),
    Refused("file-over-the-size-limit", "divipola", lambda root: divipola_csv(root / "divipola"),
            r"DIVIPOLA.csv: 0.000\d+ MB; expected at most 0.0001 MB \(SINFONIA_MAX_FILE_MB\)",
            env={"SINFONIA_MAX_FILE_MB": "0.0001"}),
    Refused("xlsx-expanding-past-the-limit", "idf", lambda root: inflating_book(root / "idf" / "ResultadosIDF_2023.xlsx"),
            r"ResultadosIDF_2023.xlsx: expands to \d+ MB uncompressed .*expected at most 1 MB "
            r"\(SINFONIA_MAX_XLSX_UNCOMPRESSED_MB\): a zip bomb",
            env={"SINFONIA_MAX_XLSX_UNCOMPRESSED_MB": "1"}),
    Refused("csv-over-the-row-limit", "divipola", lambda root: divipola_csv(root / "divipola"),
            r"DIVIPOLA.csv: more than 3 rows; expected at most 3 \(SINFONIA_MAX_ROWS\)", env={"SINFONIA_MAX_ROWS": "3"}),
    Refused("xlsx-over-the-row-limit", "idf", lambda root: idf_book(root / "idf"),
            r"ResultadosIDF_2023.xlsx: sheet sheet1 has 6 rows; expected at most 3 \(SINFONIA_MAX_ROWS\)",
            env={"SINFONIA_MAX_ROWS": "3"}),
    Refused("a-cell-of-a-million-characters", "esap_asistencias",
            _esap_rows([with_(Observaciones="x" * 1_000_000)]),
            r"asistencias_20240701.csv: row 2, column 'Observaciones': a cell of 1,000,000 characters; "
            r"expected at most 32,767 \(SINFONIA_MAX_CELL_CHARS\)"),
    Refused("a-nul-byte", "esap_asistencias", _esap_rows([GOOD, with_(ID_Asistencia="AT-2", Equipo="Equipo\x001")]),
            r"asistencias_20240701.csv: row 3, column 'Equipo': a NUL byte \(0x00\); expected text"),
    Refused("manifest-impossible-date", "divipola", _manifest_with("31/02/2024"),
            r"MANIFEST.csv: row 2 \(divipola/DIVIPOLA.csv\), column published_on: '31/02/2024' is not a date; "
            r"expected YYYY-MM-DD"),
    Refused("manifest-day-that-does-not-exist", "divipola", _manifest_with("2024-02-31"),
            r"MANIFEST.csv: row 2 .*'2024-02-31' is not a date"),
]


def landing_snapshot(dsn: str) -> tuple:
    """meta.landed_file and the files of the landing zone."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("select sha256, source, file_name from meta.landed_file order by 1").fetchall()
    files = sorted(str(p.relative_to(config.landing_dir())) for p in config.landing_dir().rglob("*"))
    return rows, files


@pytest.mark.parametrize("case", REFUSED, ids=[c.id for c in REFUSED])
def test_a_hostile_file_is_refused_before_landing_and_changes_nothing(case: Refused, fresh_dsn, tmp_path, monkeypatch):
    bootstrap(fresh_dsn)
    baseline(fresh_dsn, tmp_path / "good")
    root = tmp_path / "sources"
    root.mkdir()
    path = case.make(root)
    for key, value in (case.env or {}).items():
        monkeypatch.setenv(key, value)
    before, landing_before = snapshot(fresh_dsn), landing_snapshot(fresh_dsn)
    with pytest.raises(ValueError) as err:
        extract_folder(case.source, root, fresh_dsn)
    message = str(err.value)
    assert path.name in message and re.search(case.error, message), message
    assert snapshot(fresh_dsn) == before
    assert landing_snapshot(fresh_dsn) == landing_before


def test_a_cell_limit_raised_past_the_csv_default_lets_a_long_cell_load(fresh_dsn, tmp_path, monkeypatch):
    monkeypatch.setenv("SINFONIA_MAX_CELL_CHARS", "200000")
    bootstrap(fresh_dsn)
    root = tmp_path / "sources"
    _esap_rows([with_(Observaciones="x" * 150_000)])(root)
    [result] = extract_folder("esap_asistencias", root, fresh_dsn)
    assert (result.rows_loaded, result.rows_quarantined) == (1, 0)


def test_a_roster_is_still_landed_pseudonymised_as_the_team_export(fresh_dsn, tmp_path):
    bootstrap(fresh_dsn)
    root = tmp_path / "sources"
    roster_csv(root / "esap" / "equipos_2024.csv")
    [result] = extract_folder("esap_equipos", root, fresh_dsn)
    assert result.rows_read == 1
    landed = [p for p in config.landing_dir().rglob("*") if p.is_file() and b"1061234567" in p.read_bytes()]
    assert landed == []


def test_a_value_the_database_refuses_is_reported_at_its_file_row_and_column(fresh_dsn):
    """Past every check (a batch built by hand): PostgreSQL's COPY refuses a NUL byte; the error
    names the file's row, not the line of the load stream, and nothing is loaded."""
    from sinfonia.ingest.loading import Batch, load_batch

    bootstrap(fresh_dsn)
    batch = Batch("divipola", "2024", ("department_code", "municipality_code"), files=["x"])
    batch.rows = [("DIVIPOLA.csv", 2, "05", "05001"), ("DIVIPOLA.csv", 9, "05", "05\x00002")]
    with pytest.raises(ValueError) as err:
        load_batch(psycopg.connect(fresh_dsn, autocommit=True), batch)
    message = str(err.value)
    assert re.match(r"DIVIPOLA.csv: row 9, column municipality_code: .*0x00.*nothing of divipola 2024 was loaded",
                    message), message
    with psycopg.connect(fresh_dsn) as conn:
        assert conn.execute("select count(*) from meta.load_run where source = 'divipola'").fetchone()[0] == 0


def baseline(dsn: str, folder: Path) -> None:
    """Good loads the bad files must not disturb."""
    extract("divipola", [divipola_csv(folder)], None, dsn)
    extract("idf", [idf_book(folder)], None, dsn)
    extract("esap_asistencias", [write(folder, [GOOD])], None, dsn)


def snapshot(dsn: str) -> dict:
    """Every raw table's content, meta.load_run and meta.quarantine, comparable as values."""
    out = {}
    with psycopg.connect(dsn) as conn:
        tables = [r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'raw' order by 1")]
        for t in [*(f"raw.{t}" for t in tables), "meta.load_run", "meta.quarantine"]:
            query = sql.SQL("select t::text from {} t order by 1").format(sql.Identifier(*t.split(".")))
            out[t] = conn.execute(query).fetchall()
    return out


def assert_reconciled(dsn: str) -> None:
    """read = loaded + quarantined for every load, and the counts match the rows stored."""
    schemas = {table: spec.schema for spec in CATALOGUE for table in spec.tables}
    with psycopg.connect(dsn) as conn:
        runs = conn.execute("select load_id, source, rows_read, rows_loaded, rows_quarantined from meta.load_run").fetchall()
        assert runs
        for load_id, source, read, loaded, quarantined in runs:
            schema = schemas[source]
            query = sql.SQL("select count(*) from {} where _load_id = %s").format(sql.Identifier(schema, source))
            stored = conn.execute(query, (load_id,)).fetchone()[0]
            held = conn.execute("select count(*) from meta.quarantine where load_id = %s", (load_id,)).fetchone()[0]
            assert (read, loaded, quarantined) == (stored + held, stored, held), (source, load_id)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, fresh_dsn, tmp_path):
    bootstrap(fresh_dsn)
    baseline(fresh_dsn, tmp_path / "good")
    bad = tmp_path / "bad"
    bad.mkdir()
    path = case.make(bad)
    before = snapshot(fresh_dsn)
    if case.error:
        with pytest.raises(Exception) as err:
            extract(case.source, [path], None, fresh_dsn)
        message = str(err.value)
        assert path.name in message, message
        assert re.search(case.error, message), message
        assert snapshot(fresh_dsn) == before
        return
    extract(case.source, [path], None, fresh_dsn)
    assert_reconciled(fresh_dsn)
    with psycopg.connect(fresh_dsn) as conn:
        held = conn.execute("select file_name, row_number, column_name, reason from meta.quarantine "
                            "where file_name = %s", (path.name,)).fetchall()
        if case.quarantined:
            column, row_number, reason = case.quarantined
            assert len(held) == 1, held
            assert held[0][:3] == (path.name, row_number, column) and re.search(reason, held[0][3]), held
        else:
            assert held == []
            query, expected = case.check
            assert conn.execute(query).fetchone()[0] == expected


def test_the_corpus_has_at_least_20_bad_inputs():
    assert len(CASES) >= 20 and len({c.id for c in CASES}) == len(CASES)


def test_a_score_of_130_is_quarantined_at_extract_and_the_raw_gate_still_guards_the_range(fresh_dsn, tmp_path):
    bootstrap(fresh_dsn)
    baseline(fresh_dsn, tmp_path / "good")
    [result] = extract("idf", [idf_book(tmp_path / "bad", _idf_with(c3=130))], None, fresh_dsn)
    assert (result.rows_loaded, result.rows_quarantined) == (2, 1)
    with psycopg.connect(fresh_dsn) as conn:
        held = conn.execute("select row_number, value, reason from meta.quarantine").fetchall()
    assert held == [(8, "130", "outside the published range 0–100")]
    gates.run_gate("raw_", fresh_dsn)  # nothing out of range reached raw
    with psycopg.connect(fresh_dsn) as conn:  # a value that did (another writer) is still stopped
        conn.execute("update raw.idf set idf_score = '130' where municipality_code = '05002'")
    with pytest.raises(gates.GateFailed) as err:
        gates.run_gate("raw_", fresh_dsn)
    lines = [line for line in str(err.value).splitlines() if line.startswith(" - ")]
    assert len(lines) == 1, str(err.value)
    assert "raw_idf" in lines[0] and "idf_score" in lines[0] and "between" in lines[0] and "130" in lines[0]


def test_a_code_not_in_divipola_is_quarantined_at_extract_and_the_other_rows_load(fresh_dsn, tmp_path):
    """99999 is a well-formed code that DIVIPOLA does not know: the row waits in quarantine with
    file, row, column and code; the other rows load and the raw gate passes. The gate still
    stops such a code if another writer puts it in raw."""
    bootstrap(fresh_dsn)
    baseline(fresh_dsn, tmp_path / "good")
    path = idf_book(tmp_path / "bad", [*IDF_ROWS, ["99999", "NINGUNO", "NINGUNO", 50.0, "2. Riesgo (>=40 y <60)"]])
    proc = sinfonia("extract", "idf", "--from", str(path), env={"WAREHOUSE_DSN": fresh_dsn})
    assert "idf 2023-nueva: read 4, loaded 3, quarantined 1" in proc.stdout
    assert "code not in DIVIPOLA (first: ResultadosIDF_2023.xlsx, row 11, column 'Código': 99999)" in proc.stdout
    with psycopg.connect(fresh_dsn) as conn:
        held = conn.execute("select file_name, row_number, column_name, value, reason, record->>'municipality_name' "
                            "from meta.quarantine").fetchall()
        loaded = {r[0] for r in conn.execute("select municipality_code from raw.idf")}
        message = conn.execute("select message from meta.load_run where source = 'idf'").fetchone()[0]
    assert held == [("ResultadosIDF_2023.xlsx", 11, "Código", "99999",
                     "code 99999 does not resolve to DIVIPOLA (in no edition of raw.divipola: current)", "NINGUNO")]
    assert loaded == {"05001", "05002", "19050"} and "code not in DIVIPOLA" in message
    assert_reconciled(fresh_dsn)
    gates.run_gate("raw_", fresh_dsn)
    with psycopg.connect(fresh_dsn) as conn:  # the second line of defence
        conn.execute("update raw.idf set municipality_code = '99999' where municipality_code = '05002'")
    with pytest.raises(gates.GateFailed, match="every IDF code exists in DIVIPOLA"):
        gates.run_gate("raw_", fresh_dsn)


def test_without_divipola_the_code_check_is_skipped_with_a_notice(fresh_dsn, tmp_path):
    bootstrap(fresh_dsn)
    [result] = extract("idf", [idf_book(tmp_path, _idf_with(c0=99999))], None, fresh_dsn)
    assert (result.rows_loaded, result.rows_quarantined) == (3, 0)
    assert [n for n in result.notices if n.startswith("DIVIPOLA is not loaded")] == [result.notices[-1]]
    with psycopg.connect(fresh_dsn) as conn:
        assert "the raw gate checks them" in conn.execute(
            "select message from meta.load_run where source = 'idf'").fetchone()[0]
    with pytest.raises(gates.GateFailed, match="every IDF code exists in DIVIPOLA"):
        gates.run_gate("raw_", fresh_dsn)


def test_the_command_line_names_the_bad_file_in_one_line_and_changes_nothing(fresh_dsn, tmp_path):
    bootstrap(fresh_dsn)
    baseline(fresh_dsn, tmp_path / "good")
    before = snapshot(fresh_dsn)
    path = _truncated(tmp_path / "bad")
    proc = sinfonia("extract", "idf", "--from", str(path), env={"WAREHOUSE_DSN": fresh_dsn}, check=False)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()  # one line, then where the extract DAG's whole log is
    assert path.name in lines[0] and "not a readable Excel workbook" in lines[0], proc.stderr
    assert len(lines) == 2 and lines[1].startswith("the whole log: "), proc.stderr
    assert snapshot(fresh_dsn) == before


def test_the_command_line_loads_a_latin1_semicolon_export_and_reports_counts(fresh_dsn, tmp_path):
    bootstrap(fresh_dsn)
    baseline(fresh_dsn, tmp_path / "good")
    path = write(tmp_path, [GOOD, with_(ID_Asistencia="AT-2", Estado="Terminada")], encoding="latin-1")
    proc = sinfonia("extract", "esap_asistencias", "--from", str(path), env={"WAREHOUSE_DSN": fresh_dsn})
    assert "esap_asistencias 2024-07-01: read 2, loaded 1, quarantined 1" in proc.stdout
    assert_reconciled(fresh_dsn)


def test_every_load_of_the_sample_reconciles(fresh_dsn, small_sample):
    bootstrap(fresh_dsn)
    results = [r for spec in CATALOGUE for r in extract_folder(spec.name, small_sample, fresh_dsn)]
    assert {t for spec in CATALOGUE for t in spec.tables} == {r.source for r in results}
    for r in results:
        assert r.rows_read == r.rows_loaded + r.rows_quarantined, r
    assert_reconciled(fresh_dsn)


class _RowsThatEndTheSession(list):
    """Batch rows whose reading (mid-COPY) has the server end the loading session."""

    def __init__(self, rows, dsn, pid):
        super().__init__(rows)
        self.dsn, self.pid = dsn, pid

    def __iter__(self):
        with psycopg.connect(self.dsn, autocommit=True) as admin:
            admin.execute("select pg_terminate_backend(%s)", (self.pid,))
        return super().__iter__()


def test_a_warehouse_that_goes_away_mid_load_is_named_and_nothing_is_loaded(fresh_dsn):
    from sinfonia.ingest.loading import Batch, load_batch

    bootstrap(fresh_dsn)
    conn = psycopg.connect(fresh_dsn, autocommit=True)
    pid = conn.execute("select pg_backend_pid()").fetchone()[0]
    batch = Batch("divipola", "2024", ("department_code", "municipality_code"), files=["x"])
    batch.rows = _RowsThatEndTheSession([("DIVIPOLA.csv", 2, "05", "05001")], fresh_dsn, pid)
    with pytest.raises(db.WarehouseGone, match=r"^the warehouse went away while loading divipola 2024 from "
                       r"DIVIPOLA.csv \(.+\): nothing of it was loaded \(one transaction\) and nothing was published"):
        load_batch(conn, batch)
    with psycopg.connect(fresh_dsn) as check:
        assert check.execute("select count(*) from meta.load_run").fetchone()[0] == 0
        assert check.execute("select count(*) from raw.divipola").fetchone()[0] == 0


def test_unreachable_says_why_and_is_none_for_a_live_warehouse(fresh_dsn):
    assert db.unreachable(fresh_dsn) is None
    info = psycopg.conninfo.conninfo_to_dict(fresh_dsn)
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens there once the socket closes
    dead = psycopg.conninfo.make_conninfo(**{**info, "port": str(port)})
    assert "refused" in db.unreachable(dead).lower()
