"""Maps as inline SVG (issue 33): marks, legend counts, what cannot be placed, MGN boundaries."""

import json
import re

import pytest

from sinfonia.report import maps
from sinfonia.report.maps import Group, Place

GROUPS = (Group("a", "Grupo A", "#111111"), Group("b", "Grupo B", "#222222"))


def _marks(page: str) -> list[tuple[str, str]]:
    return re.findall(r'class="marca" data-code="(\d+)" data-group="(\w+)"', page)


def _legend(page: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r'<li data-group="(\w+)" data-count="(\d+)"', page)}


def test_one_mark_per_located_place_and_the_legend_counts_every_place():
    places = [Place("05001", "Medellín", "a", 6.25, -75.56, "05", ring=True),
              Place("05002", "Abejorral", "b", 5.79, -75.43, "05"),
              Place("27493", "Nuevo Belén de Bajirá", "b", None, None, "27")]
    page = maps.map_html(places, GROUPS, title="t", caption="c", alt="un mapa de prueba", ring_label="Anillo")
    assert sorted(_marks(page)) == [("05001", "a"), ("05002", "b")]
    assert 'data-marks="2"' in page
    assert _legend(page) == {"a": 1, "b": 2, "anillo": 1}  # the unplaced one counts in its group
    unplaced = re.search(r'<p class="sin-ubicacion" data-count="1">(.*?)</p>', page).group(1)
    assert "Nuevo Belén de Bajirá (27493)" in unplaced
    assert page.count('class="anillo"') == 1
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")


def test_points_keep_their_geography_north_up_and_west_left():
    places = [Place("1", "norte", "a", 11.0, -74.0), Place("2", "sur", "a", -4.0, -70.0),
              Place("3", "oeste", "a", 3.0, -78.0)]
    page = maps.map_html(places, GROUPS, title="t", caption="c", alt="x")
    xy = {code: (float(x), float(y)) for code, x, y in
          re.findall(r'data-code="(\d)"[^>]*cx="([\d.]+)" cy="([\d.]+)"', page)}
    assert xy["1"][1] < xy["3"][1] < xy["2"][1]  # north at the top
    assert xy["3"][0] < xy["1"][0] < xy["2"][0]  # west at the left
    width, height = map(float, re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', page).groups())
    assert all(0 <= x <= width and 0 <= y <= height for x, y in xy.values())


def test_the_archipelago_goes_in_an_inset_and_the_sample_says_so():
    places = [Place("88001", "San Andrés", "a", 12.58, -81.7, "88"), Place("05001", "Medellín", "a", 6.25, -75.56, "05"),
              Place("91001", "Leticia", "b", -4.2, -69.94, "91")]
    page = maps.map_html(places, GROUPS, title="t", caption="c", alt="x", sample=True)
    assert "San Andrés y Providencia" in page and len(_marks(page)) == 3
    assert "DATOS SINTÉTICOS DE MUESTRA" in page and "coordenadas son sintéticas" in page
    real = maps.map_html(places, GROUPS, title="t", caption="c", alt="x")
    assert "SINTÉTICOS" not in real and "sintéticas" not in real


def test_a_place_in_a_group_without_legend_is_refused():
    with pytest.raises(ValueError, match="without a legend entry: z"):
        maps.map_html([Place("1", "x", "z", 1.0, -75.0)], GROUPS, title="t", caption="c", alt="x")


def test_nothing_located_still_lists_everyone():
    page = maps.map_html([Place("1", "Uno", "a")], GROUPS, title="t", caption="c", alt="x")
    assert _marks(page) == [] and "Uno (1)" in page and "Ningún municipio" in page


def _square(lon, lat, d=0.2):
    return [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]


def test_mgn_geojson_boundaries_replace_points_and_points_remain_for_the_rest(tmp_path):
    (tmp_path / "mgn").mkdir()
    features = [
        {"type": "Feature", "properties": {"MPIO_CDPMP": "05001", "MPIO_CNMBR": "MEDELLÍN"},
         "geometry": {"type": "Polygon", "coordinates": [_square(-75.7, 6.1)]}},
        {"type": "Feature", "properties": {"DPTO_CCDGO": "05", "MPIO_CCDGO": "002"},
         "geometry": {"type": "MultiPolygon", "coordinates": [[_square(-75.5, 5.7)], [_square(-75.1, 5.7)]]}},
    ]
    (tmp_path / "mgn" / "MGN_MPIO_POLITICO.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    boundaries = maps.load_boundaries(tmp_path)
    assert sorted(boundaries.rings) == ["05001", "05002"] and len(boundaries.rings["05002"]) == 2
    places = [Place("05001", "Medellín", "a", None, None, "05"), Place("05002", "Abejorral", "b", 5.8, -75.4, "05"),
              Place("05004", "Abriaquí", "b", 6.6, -76.1, "05"), Place("05021", "Alejandría", "a")]
    page = maps.map_html(places, GROUPS, title="t", caption="c", alt="x", boundaries=boundaries)
    assert re.findall(r'<path class="marca" data-code="(\d+)"', page) == ["05001", "05002"]
    assert re.findall(r'<circle class="marca" data-code="(\d+)"', page) == ["05004"]
    assert "Alejandría (05021)" in page and "MGN_MPIO_POLITICO.geojson" in page
    assert maps.load_boundaries(tmp_path / "nothing-here") is None


def test_mgn_shapefile_is_read_with_its_outer_rings(tmp_path):
    import shapefile

    (tmp_path / "mgn").mkdir()
    with shapefile.Writer(str(tmp_path / "mgn" / "MGN_MPIO_POLITICO")) as w:
        w.field("MPIO_CCNCT", "C", size=5)
        w.field("MPIO_CNMBR", "C", size=40)
        outer = [(-75.7, 6.1), (-75.7, 6.3), (-75.5, 6.3), (-75.5, 6.1), (-75.7, 6.1)]  # clockwise
        hole = [(-75.65, 6.15), (-75.55, 6.15), (-75.55, 6.25), (-75.65, 6.25), (-75.65, 6.15)]
        w.poly([outer, hole])
        w.record("05001", "MEDELLÍN")
    boundaries = maps.load_boundaries(tmp_path)
    assert list(boundaries.rings) == ["05001"] and len(boundaries.rings["05001"]) == 1  # the hole is not drawn


@pytest.mark.parametrize("properties, coordinates, message", [
    ({"NOMBRE": "X"}, _square(-75.7, 6.1), "no municipality code; expected a 5-digit DIVIPOLA code in one of MPIO_CDPMP"),
    ({"MPIO_CDPMP": "05001"}, _square(4_700_000, 2_200_000, 1000), "not projected metres"),
])
def test_unusable_boundary_files_get_a_clear_error(tmp_path, properties, coordinates, message):
    (tmp_path / "mgn").mkdir()
    feature = {"type": "Feature", "properties": properties, "geometry": {"type": "Polygon", "coordinates": [coordinates]}}
    (tmp_path / "mgn" / "mpios.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    with pytest.raises(maps.MapError, match=message) as info:
        maps.load_boundaries(tmp_path)
    assert "mpios.geojson" in str(info.value) and "feature 1" in str(info.value)


def test_two_boundary_files_are_ambiguous(tmp_path):
    (tmp_path / "mgn").mkdir()
    (tmp_path / "mgn" / "a.geojson").write_text("{}")
    (tmp_path / "mgn" / "b.shp").write_bytes(b"")
    with pytest.raises(maps.MapError, match="more than one boundary file"):
        maps.load_boundaries(tmp_path)
