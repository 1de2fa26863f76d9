import csv

from sinfonia.ingest.sources import esap_metas
from tests.helpers import landed

HEADER = ["Vigencia", "Dirección Territorial", "Línea Temática", "Meta Asistencias"]


def write(tmp_path, rows):
    path = tmp_path / "metas.csv"
    with open(path, "w", newline="", encoding="latin-1") as fh:
        csv.writer(fh).writerows([HEADER, *rows])
    return path


def test_one_batch_per_year_and_bad_rows_explained(tmp_path):
    path = write(tmp_path, [
        [2024, "Dirección Territorial Cauca", "Innovación pública", 12],
        [2025, "Dirección Territorial Cauca", "Innovación pública", "13"],
        [2025, "Dirección Territorial Cauca", "Innovación pública", 14],
        [2025, "Dirección Territorial Chocó", "Innovación pública", "doce"],
    ])
    batches = {b.period: b for b in esap_metas.parse([landed(path)])}
    assert set(batches) == {"2024", "2025"}
    assert [r[2:] for r in batches["2024"].rows] == [("2024", "Dirección Territorial Cauca", "Innovación pública", "12")]
    reasons = sorted((r.row_number, r.column, r.reason.split(" (")[0]) for r in batches["2025"].rejected)
    # the row contract's wordings (sources.contract): a duplicate key names the row of the first
    assert reasons == [(4, "Línea Temática", "duplicate Vigencia, Dirección Territorial and Línea Temática "
                                             "2025/Dirección Territorial Cauca/Innovación pública: first at row 3"),
                       (5, "Meta Asistencias", "expected an integer")]
    assert sum(b.rows_read for b in batches.values()) == 4


def test_goals_for_implausible_years_are_quarantined(tmp_path):
    path = write(tmp_path, [[2099, "Dirección Territorial Cauca", "Innovación pública", 12],
                            [2024, "Dirección Territorial Cauca", "Innovación pública", 12]])
    batches = {b.period: b for b in esap_metas.parse([landed(path)])}
    [bad] = batches["2099"].rejected
    assert bad.column == "Vigencia" and "outside the plausible range" in bad.reason and not batches["2099"].rows
    assert len(batches["2024"].rows) == 1
