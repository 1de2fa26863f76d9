"""DIVIPOLA editions and finding a source's files in its own folder (issue 15)."""

from sinfonia.ingest.extract import discover
from sinfonia.ingest.sources import divipola
from tests.helpers import landed

HEADER = "Código Departamento,Código Municipio,Nombre Departamento,Nombre Municipio,Tipo: Municipio / Isla / Área no municipalizada"


def _csv(path, *rows, extra=""):
    path.write_text("\n".join([HEADER + extra, *rows]) + "\n", encoding="utf-8")
    return landed(path)


def test_each_edition_is_its_own_period_from_year_argument_or_file_name(tmp_path):
    old = _csv(tmp_path / "DIVIPOLA.csv", "5,5001,ANTIOQUIA,MEDELLÍN,Municipio", "94,94663,GUAINÍA,MAPIRIPANA,Área no municipalizada")
    new = _csv(tmp_path / "DIVIPOLA_2025.csv", '5,05001,ANTIOQUIA,MEDELLÍN,Municipio,"6,2518","-75,5636"',
               '27,27493,CHOCÓ,NUEVO BELÉN DE BAJIRÁ,Municipio,"7,37","-76,71"', extra=",Latitud,Longitud")
    batches = {b.period: b for b in divipola.parse([old, new])}
    assert sorted(batches) == ["2025", "current"]
    assert [r[3] for r in batches["current"].rows] == ["05001", "94663"]
    assert {r[-2:] for r in batches["current"].rows} == {(None, None)}  # an edition without coordinates
    assert [r[3] for r in batches["2025"].rows] == ["05001", "27493"]  # the coordinates columns are not needed
    assert [b.period for b in divipola.parse([old], period="2018")] == ["2018"]


def test_extract_finds_files_in_a_sources_folder_or_in_the_source_own_folder(tmp_path):
    (tmp_path / "cgn").mkdir()
    book = tmp_path / "cgn" / "CT01 Categorizacion 2021.xlsx"
    book.write_bytes(b"x")
    (tmp_path / "cgn" / "~$CT01 Categorizacion 2021.xlsx").write_bytes(b"lock")
    assert discover(tmp_path, "cgn_categories") == [book]
    assert discover(tmp_path / "cgn", "cgn_categories") == [book]
    (tmp_path / "MANIFEST.csv").write_text("file,source,period,published_on,origin\n")
    assert discover(tmp_path, "divipola") == []  # a sources folder without divipola/: nothing, not MANIFEST.csv


def test_coordinates_are_kept_as_published_in_latitude_and_longitude(tmp_path):
    csv_file = _csv(tmp_path / "DIVIPOLA_2025.csv", '05,05001,ANTIOQUIA,MEDELLÍN,Municipio,"6,25184","-75,56359"',
                    "27,27493,CHOCÓ,NUEVO BELÉN DE BAJIRÁ,Municipio,,", extra=",LATITUD,LONGITUD")
    [batch] = divipola.parse([csv_file])
    columns = list(batch.columns)
    assert columns[-2:] == ["latitude", "longitude"]
    rows = {r[3]: r for r in batch.rows}
    # decimal commas as the Socrata export writes them: staging casts, the raw layer keeps the text
    assert rows["05001"][-2:] == ("6,25184", "-75,56359")
    assert rows["27493"][-2:] == (None, None)

    page = tmp_path / "gdxc-w37w_page_0001.json"
    page.write_text('[{"cod_dpto": "05", "cod_mpio": "05001", "dpto": "ANTIOQUIA", "nom_mpio": "MEDELLÍN", '
                    '"tipo_municipio": "Municipio", "latitud": "6,25184", "longitud": "-75,56359"}, '
                    '{"cod_dpto": "05", "cod_mpio": "05002", "dpto": "ANTIOQUIA", "nom_mpio": "ABEJORRAL", '
                    '"tipo_municipio": "Municipio"}]', encoding="utf-8")
    [batch] = divipola.parse([landed(page)])
    assert [r[-2:] for r in batch.rows] == [("6,25184", "-75,56359"), (None, None)]

