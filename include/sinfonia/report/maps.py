"""Maps of municipalities as inline SVG (Spanish): drawn offline, no tile server, no script.

A map is a list of ``Place``s (a municipality, its legend group, its coordinates) drawn as points
at DIVIPOLA's coordinates (``marts.dim_municipality.latitude``/``longitude``), or as municipality
boundaries when a DANE MGN boundary file is given (``load_boundaries``: the sources folder's
``mgn/``, GeoJSON or shapefile). The SVG is written into the page, so the HTML and the PDF Chromium
prints from it need nothing else: no network, no JavaScript, one browser start per page as before.

What the map cannot place is not dropped: a municipality without coordinates (and without a
boundary) is named under the map, and the legend counts every place of its group, drawn or not,
so the legend's counts are the mart's. Every mark carries ``class="marca"`` and
``data-code``/``data-group`` (what the tests count); the legend items carry ``data-count``.

The projection is equirectangular, scaled by the cosine of the middle latitude (Colombia spans 20°
of latitude around the equator: the distortion is small for a sheet). The San Andrés archipelago
(department 88), 700 km off the coast, goes in an inset when the map also shows the mainland.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from sinfonia.errors import UserError
from sinfonia.report.spanish import number

WIDTH = 560  # the SVG's user units; it scales to the width of its box
PAD = 12
BACKGROUND = "#f4f7fa"
OUTLINE = "#ffffff"
ARCHIPELAGO = "88"
MGN_FOLDER = "mgn"
MGN_PATTERNS = ("*.geojson", "*.json", "*.shp")
# DANE's MGN municipality layers name the 5-digit code MPIO_CDPMP (2021 on) or MPIO_CCNCT (2018);
# older ones only the department and municipality parts.
CODE_FIELDS = ("MPIO_CDPMP", "MPIO_CCNCT", "COD_MPIO", "CODIGO_MUNICIPIO", "COD_DANE", "DIVIPOLA")
PART_FIELDS = ("DPTO_CCDGO", "MPIO_CCDGO")

Ring = list[tuple[float, float]]  # (longitude, latitude) vertices of a closed ring


class MapError(UserError, ValueError):
    """A boundary file that cannot be used (names the file and what was expected)."""


@dataclass(frozen=True)
class Group:
    """A legend entry: its key (``data-group``), its Spanish label and its colour."""

    key: str
    label: str
    colour: str


@dataclass(frozen=True)
class Place:
    code: str
    name: str
    group: str
    latitude: float | None = None
    longitude: float | None = None
    department_id: str = ""
    ring: bool = False  # drawn with a dark ring (an uncertain selection, the sheet's municipality)
    size: float = 1.0  # radius factor of its point (open work: more items, larger point)

    @property
    def located(self) -> bool:
        return self.latitude is not None and self.longitude is not None


@dataclass
class Boundaries:
    """Municipality outlines by 5-digit code, from one MGN file."""

    source: str
    rings: dict[str, list[Ring]] = field(default_factory=dict)


# -- reading DANE's MGN -----------------------------------------------------------------------------
def boundary_file(sources_dir: Path | str | None) -> Path | None:
    """The MGN boundary file of a sources folder (``mgn/``), or None when there is none."""
    if sources_dir is None:
        return None
    folder = Path(sources_dir) / MGN_FOLDER
    if not folder.is_dir():
        return None
    found = sorted(p for pattern in MGN_PATTERNS for p in folder.glob(pattern) if not p.name.startswith("."))
    if len(found) > 1:
        raise MapError(f"{folder}: more than one boundary file ({', '.join(p.name for p in found)}); "
                       "expected one MGN municipality layer (GeoJSON or shapefile)")
    return found[0] if found else None


def load_boundaries(sources_dir: Path | str | None) -> Boundaries | None:
    """The municipality boundaries of the sources folder's ``mgn/``, or None when it holds none.
    Read once per file version and process (a batch of sheets reads it once)."""
    path = boundary_file(sources_dir)
    if path is None:
        return None
    stat = path.stat()
    return _load(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=2)
def _load(path: str, _mtime: int, _size: int) -> Boundaries:
    p = Path(path)
    features = _shapefile_features(p) if p.suffix.lower() == ".shp" else _geojson_features(p)
    out = Boundaries(p.name)
    for number_, (properties, rings) in enumerate(features, start=1):
        code = _code(properties)
        if code is None:
            raise MapError(f"{p.name}: feature {number_} has no municipality code; expected a 5-digit "
                           f"DIVIPOLA code in one of {', '.join(CODE_FIELDS)} or the parts "
                           f"{' + '.join(PART_FIELDS)} (DANE's MGN municipality layer)")
        for ring in rings:
            for lon, lat in ring:
                if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                    raise MapError(f"{p.name}: feature {number_} (municipality {code}) has the coordinate "
                                   f"({lon}, {lat}); expected longitude and latitude in degrees (MAGNA-SIRGAS "
                                   "EPSG:4686 or WGS84), not projected metres: reproject the layer first")
        out.rings.setdefault(code, []).extend(_simplify(r) for r in rings if len(r) >= 3)
    if not out.rings:
        raise MapError(f"{p.name}: no municipality polygon found; expected DANE's MGN municipality layer")
    return out


def _code(properties: dict) -> str | None:
    upper = {str(k).upper(): v for k, v in properties.items()}
    for name in CODE_FIELDS:
        value = str(upper.get(name) or "").strip()
        if value.isdigit() and len(value) <= 5:
            return value.zfill(5)
    dept, mpio = (str(upper.get(n) or "").strip() for n in PART_FIELDS)
    if dept.isdigit() and mpio.isdigit():
        return mpio.zfill(5) if len(mpio) == 5 else dept.zfill(2) + mpio.zfill(3)
    return None


def _geojson_features(path: Path) -> Iterable[tuple[dict, list[Ring]]]:
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MapError(f"{path.name}: not valid GeoJSON ({exc}); expected a FeatureCollection of "
                       "municipality polygons") from exc
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise MapError(f"{path.name}: expected a GeoJSON FeatureCollection of municipality polygons")
    for feature in data.get("features") or []:
        geometry = feature.get("geometry") or {}
        kind, coords = geometry.get("type"), geometry.get("coordinates") or []
        polygons = [coords] if kind == "Polygon" else coords if kind == "MultiPolygon" else []
        # the outer ring of each polygon: holes are too small to see at this scale
        yield feature.get("properties") or {}, [[(float(x), float(y)) for x, y, *_ in poly[0]]
                                                for poly in polygons if poly]


def _shapefile_features(path: Path) -> Iterable[tuple[dict, list[Ring]]]:
    import shapefile  # pyshp

    try:
        reader = shapefile.Reader(str(path), encoding="utf-8", encodingErrors="replace")
    except shapefile.ShapefileException as exc:
        raise MapError(f"{path.name}: not a readable shapefile ({exc}); expected the .shp with its .shx "
                       "and .dbf beside it") from exc
    with reader:
        for shape_record in reader.iterShapeRecords():
            shape = shape_record.shape
            parts = [*shape.parts, len(shape.points)]
            rings = [[(float(x), float(y)) for x, y in shape.points[a:b]]
                     for a, b in zip(parts, parts[1:], strict=False)]
            # shapefile outer rings run clockwise (negative signed area); holes counter-clockwise
            yield shape_record.record.as_dict(), [r for r in rings if _signed_area(r) <= 0] or rings


def _signed_area(ring: Ring) -> float:
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True)) / 2


def _simplify(ring: Ring, tolerance: float = 0.005) -> Ring:
    """Fewer vertices (about 500 m apart at most resolution): MGN's outlines carry thousands per
    municipality, far more than a sheet can show."""
    kept = [ring[0]]
    for point in ring[1:-1]:
        if abs(point[0] - kept[-1][0]) + abs(point[1] - kept[-1][1]) >= tolerance:
            kept.append(point)
    kept.append(ring[-1])
    return kept


# -- drawing ------------------------------------------------------------------------------------------
@dataclass
class _Frame:
    """Longitude/latitude → SVG units for one box."""

    lon_min: float
    lat_max: float
    scale: float
    x0: float
    y0: float
    cos: float

    @classmethod
    def fit(cls, points: Sequence[tuple[float, float]], x0: float, y0: float, width: float,
            height: float | None = None) -> _Frame:
        lons = [p[0] for p in points]
        lats = [p[1] for p in points]
        lon_min, lon_max, lat_min, lat_max = min(lons), max(lons), min(lats), max(lats)
        margin = max(lon_max - lon_min, lat_max - lat_min, 0.2) * 0.04
        lon_min, lon_max, lat_min, lat_max = lon_min - margin, lon_max + margin, lat_min - margin, lat_max + margin
        cos = math.cos(math.radians((lat_min + lat_max) / 2))
        span_x, span_y = (lon_max - lon_min) * cos, lat_max - lat_min
        scale = width / span_x
        if height is not None:
            scale = min(scale, height / span_y)
        return cls(lon_min, lat_max, scale, x0, y0, cos)

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        return (self.x0 + (lon - self.lon_min) * self.cos * self.scale, self.y0 + (self.lat_max - lat) * self.scale)

    def height_of(self, lat_min: float) -> float:
        return (self.lat_max - lat_min) * self.scale


def _path(rings: list[Ring], frame: _Frame) -> str:
    parts = []
    for ring in rings:
        coords = [frame.xy(lon, lat) for lon, lat in ring]
        parts.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in coords) + "Z")
    return "".join(parts)


def _extent(places: list[Place], boundaries: Boundaries | None) -> list[tuple[float, float]]:
    points: list[tuple[float, float]] = []
    for p in places:
        rings = boundaries.rings.get(p.code) if boundaries else None
        if rings:
            points.extend(v for r in rings for v in r)
        elif p.located:
            points.append((p.longitude, p.latitude))
    return points


def _centre(p: Place, rings: list[Ring] | None) -> tuple[float, float]:
    if p.located:
        return p.longitude, p.latitude
    vertices = [v for r in rings or [] for v in r]
    return ((min(v[0] for v in vertices) + max(v[0] for v in vertices)) / 2,
            (min(v[1] for v in vertices) + max(v[1] for v in vertices)) / 2)


def map_html(places: Sequence[Place], groups: Sequence[Group], *, title: str, caption: str, alt: str,
             sample: bool = False, boundaries: Boundaries | None = None, ring_label: str | None = None,
             size_label: str | None = None, map_id: str = "mapa") -> str:
    """A ``<figure class="mapa">``: the SVG map, its legend with every group's count, the places it
    could not draw, and the caption. ``groups`` order the legend and the drawing (later on top)."""
    colours = {g.key: g.colour for g in groups}
    unknown = sorted({p.group for p in places} - set(colours))
    if unknown:
        raise ValueError(f"places in groups without a legend entry: {', '.join(unknown)}")
    order = {g.key: i for i, g in enumerate(groups)}
    places = sorted(places, key=lambda p: (order[p.group], p.ring, p.code))
    drawable = [p for p in places if p.located or (boundaries and boundaries.rings.get(p.code))]
    missing = [p for p in places if p not in drawable]
    islands = [p for p in drawable if p.department_id == ARCHIPELAGO]
    mainland = [p for p in drawable if p.department_id != ARCHIPELAGO]
    inset = bool(islands and mainland)
    body: list[str] = []
    height = 120.0
    if drawable:
        main = mainland if inset else drawable
        frame = _Frame.fit(_extent(main, boundaries), PAD, PAD + (18 if sample else 0), WIDTH - 2 * PAD)
        lat_min = min(v[1] for v in _extent(main, boundaries))
        height = frame.y0 + frame.height_of(lat_min - 0.04 * 0.2) + PAD + frame.scale * 0.1
        radius = max(2.0, min(7.0, 70 / math.sqrt(len(drawable))))
        body += _marks(main, frame, colours, boundaries, radius)
        if inset:
            box = (PAD + 4, frame.y0 + 4, 84, 90)
            body.append(f'<rect x="{box[0]}" y="{box[1]}" width="{box[2]}" height="{box[3]}" fill="#ffffff" '
                        'stroke="#8a9bb0" stroke-width="0.8"/>')
            body.append(f'<text x="{box[0] + 3}" y="{box[1] + box[3] - 4}" font-size="7" fill="#4a5a6a">'
                        "San Andrés y Providencia</text>")
            sub = _Frame.fit(_extent(islands, boundaries) + [(-81.8, 12.45), (-81.3, 13.45)],
                             box[0] + 8, box[1] + 6, box[2] - 16, box[3] - 22)
            body += _marks(islands, sub, colours, boundaries, radius)
    banner = ('<text x="50%" y="14" text-anchor="middle" font-size="12" font-weight="bold" fill="#b00020">'
              "DATOS SINTÉTICOS DE MUESTRA</text>" if sample else "")
    empty = ("" if drawable else '<text x="50%" y="60" text-anchor="middle" font-size="12" fill="#4a5a6a">'
             "Ningún municipio de este mapa tiene coordenadas ni límite</text>")
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" class="mapa-svg" viewBox="0 0 {WIDTH} {height:.0f}" '
           f'width="100%" role="img" aria-labelledby="{map_id}-t"><title id="{map_id}-t">{html.escape(alt)}</title>'
           f'<rect width="100%" height="100%" fill="{BACKGROUND}"/>{banner}{empty}{"".join(body)}</svg>')
    counts = {g.key: 0 for g in groups}
    for p in places:
        counts[p.group] += 1
    legend = "".join(
        f'<li data-group="{html.escape(g.key)}" data-count="{counts[g.key]}"><span class="muestra" '
        f'style="background:{g.colour}"></span>{html.escape(g.label)}: {number(counts[g.key])}</li>'
        for g in groups)
    rings = sum(1 for p in places if p.ring)
    if ring_label:
        legend += (f'<li data-group="anillo" data-count="{rings}"><span class="muestra anillo"></span>'
                   f"{html.escape(ring_label)}: {number(rings)}</li>")
    if size_label:
        legend += f'<li class="tamano">{html.escape(size_label)}</li>'
    basis = (f"Límites municipales del Marco Geoestadístico Nacional (DANE, archivo {boundaries.source})"
             if boundaries else "Puntos en las coordenadas que publica DIVIPOLA (DANE)")
    if sample:
        basis += "; en los datos de muestra las coordenadas son sintéticas"
    unplaced = ""
    if missing:
        names = ", ".join(f"{html.escape(p.name)} ({p.code})" for p in sorted(missing, key=lambda p: p.code))
        unplaced = (f'<p class="sin-ubicacion" data-count="{len(missing)}"><strong>Sin coordenadas en el mapa '
                    f"({number(len(missing))}):</strong> {names}. Cuentan en la leyenda.</p>")
    return (f'<figure class="mapa" id="{map_id}" data-marks="{len(drawable)}"><h4 class="mapa-titulo">'
            f"{html.escape(title)}</h4>{svg}<ul class=\"leyenda\">{legend}</ul>{unplaced}"
            f"<figcaption>{html.escape(caption)} {html.escape(basis)}.</figcaption></figure>")


def _marks(places: list[Place], frame: _Frame, colours: dict[str, str], boundaries: Boundaries | None,
           radius: float) -> list[str]:
    out, rings_on_top = [], []
    for p in places:
        rings = boundaries.rings.get(p.code) if boundaries else None
        attrs = f'class="marca" data-code="{p.code}" data-group="{html.escape(p.group)}" fill="{colours[p.group]}"'
        label = f"<title>{html.escape(p.name)} ({p.code})</title>"
        if rings:
            out.append(f'<path {attrs} stroke="{OUTLINE}" stroke-width="0.3" d="{_path(rings, frame)}">{label}</path>')
        else:
            x, y = frame.xy(p.longitude, p.latitude)
            r = radius * p.size
            out.append(f'<circle {attrs} stroke="{OUTLINE}" stroke-width="0.4" cx="{x:.1f}" cy="{y:.1f}" '
                       f'r="{r:.1f}" fill-opacity="0.9">{label}</circle>')
        if p.ring:
            x, y = frame.xy(*_centre(p, rings))
            rings_on_top.append(f'<circle class="anillo" data-code="{p.code}" cx="{x:.1f}" cy="{y:.1f}" '
                                f'r="{radius * p.size + 2:.1f}" fill="none" stroke="#1d2733" stroke-width="1.2"/>')
    return out + rings_on_top


STYLE = """
figure.mapa { break-inside: avoid; margin: 1.2rem 0; max-width: 600px; }
figure.mapa svg { border: 1px solid #e3e8ee; display: block; }
h4.mapa-titulo { margin: .2rem 0 .4rem; color: #0b3d63; }
ul.leyenda { list-style: none; padding: 0; margin: .4rem 0; font-size: .85rem; display: flex; flex-wrap: wrap;
             gap: .2rem 1rem; }
ul.leyenda .muestra { display: inline-block; width: .8rem; height: .8rem; border-radius: 50%;
                      margin-right: .3rem; vertical-align: middle; border: 1px solid #fff; }
ul.leyenda .muestra.anillo { background: none; border: 2px solid #1d2733; }
p.sin-ubicacion { font-size: .85rem; color: #4a5a6a; }
.mapas { display: grid; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr)); gap: 0 1.5rem; }
"""


# -- reading the warehouse ------------------------------------------------------------------------------
def coordinates(conn) -> dict[str, tuple[float | None, float | None, str]]:
    """municipality_id → (latitude, longitude, department_id) from ``marts.dim_municipality``; the
    coordinates are None on a warehouse published before it had them."""
    if conn.execute("select to_regclass('marts.dim_municipality')").fetchone()[0] is None:
        return {}
    has = conn.execute("select count(*) from information_schema.columns where table_schema = 'marts' "
                       "and table_name = 'dim_municipality' and column_name in ('latitude', 'longitude')"
                       ).fetchone()[0] == 2
    query = ("select municipality_id, latitude::float8, longitude::float8, department_id "
             "from marts.dim_municipality" if has else
             "select municipality_id, null::float8, null::float8, department_id from marts.dim_municipality")
    return {code: (lat, lon, dept) for code, lat, lon, dept in conn.execute(query)}


def place(code: str, name: str, group: str, where: dict, **kwargs) -> Place:
    """A Place at the warehouse's coordinates for ``code`` (none when it has none)."""
    lat, lon, dept = where.get(code, (None, None, code[:2]))
    return Place(code, name, group, lat, lon, dept, **kwargs)
