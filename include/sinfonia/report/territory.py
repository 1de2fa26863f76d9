"""The report's and the sheets' maps (Spanish): what each shows, read from the published marts.

- ``list_maps``: the year's prioritised list (selected, eligible not selected, not eligible, with
  the uncertain selections ringed) and its need tiers, from ``marts.mart_prioritisation``;
- ``coverage_map``: where ESAP worked in a year, by directorate (reached as ``mart_coverage``
  counts it: an assistance of that goal year that was not cancelled);
- ``sheet_map``: a characterisation sheet's municipality among its directorate's, with its peers
  of the same capacity group;
- ``open_work_map``: the latest week's open work by municipality (``mart_open_work``).

Drawing is ``report.maps``; boundaries come from the sources folder's ``mgn/`` when given.
"""

from __future__ import annotations

from sinfonia.report import maps
from sinfonia.report.maps import Group
from sinfonia.report.spanish import number, place_name

STATUS = (
    Group("no_elegible", "No elegible", "#c5ced8"),
    Group("elegible", "Elegible, no seleccionado", "#e39b2d"),
    Group("seleccionado", "Seleccionado", "#b5443c"),
)
TIERS = (
    Group("sin_quintil", "No elegible (sin quintil)", "#d5dce4"),
    Group("q5", "Quintil 5 (menor necesidad)", "#fbe9a6"),
    Group("q4", "Quintil 4", "#f4c04a"),
    Group("q3", "Quintil 3", "#e67e22"),
    Group("q2", "Quintil 2", "#c0392b"),
    Group("q1", "Quintil 1 (mayor necesidad)", "#6e0d0d"),
)
# Sixteen distinguishable colours, one per directorate (in directorate code order).
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#bcbd22", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#31a354",
           "#756bb1", "#636363")
NOT_REACHED = Group("no_alcanzado", "No alcanzados", "#d5dce4")
SHEET_COLOURS = {"otros": "#c5ced8", "pares": "#1f5f99", "este": "#d7191c"}
FLAGS = (  # most urgent last: a municipality takes the colour of its most urgent item
    Group("abierta", "Abiertas sin alerta", "#8a9bb0"),
    Group("delivered_without_satisfaction", "Entregadas sin calificación de satisfacción", "#1f5f99"),
    Group("due_soon_without_action_plan", "Por vencer sin plan de acción", "#e39b2d"),
    Group("overdue", "Vencidas", "#c8102e"),
)


def _true(value) -> bool:
    """A flag from a frame: True, False, None or NaN (a year without the certainty analysis)."""
    return value is not None and value == value and bool(value)


def _has(conn, table: str) -> bool:
    return conn.execute("select to_regclass(%s)", (f"marts.{table}",)).fetchone()[0] is not None


def list_maps(conn, df, year: int, sample: bool, boundaries=None) -> str:
    """The year's list and its need tiers, side by side (``df`` is ``prioritisation.frame``)."""
    where = maps.coordinates(conn)
    status, tiers = [], []
    for r in df.itertuples():
        name = place_name(r.municipality_name) or r.municipality_id
        key = "seleccionado" if _true(r.is_selected) else "elegible" if _true(r.is_eligible) else "no_elegible"
        status.append(maps.place(r.municipality_id, name, key, where,
                                 ring=_true(r.is_selected) and _true(r.is_uncertain)))
        tier = f"q{int(r.tier)}" if r.tier is not None and r.tier == r.tier else "sin_quintil"
        tiers.append(maps.place(r.municipality_id, name, tier, where))
    selected = sum(1 for p in status if p.group == "seleccionado")
    return ('<div class="mapas">'
            + maps.map_html(status, STATUS, title=f"La lista de {year}", map_id="mapa-lista", sample=sample,
                            boundaries=boundaries, ring_label="Selección incierta (probabilidad 20 %–80 %)",
                            alt=f"Mapa de Colombia con los {number(len(status))} municipios de la priorización "
                                f"{year}: {number(selected)} seleccionados, los elegibles no seleccionados y los no "
                                "elegibles; un anillo marca las selecciones inciertas.",
                            caption="Cada municipio según su lugar en la lista del año; el anillo marca las "
                                    "selecciones que cambian en más del 20 % de las simulaciones.")
            + maps.map_html(tiers, TIERS, title=f"Quintil de necesidad {year}", map_id="mapa-quintil",
                            sample=sample, boundaries=boundaries,
                            alt=f"Mapa de Colombia con el quintil de necesidad de los municipios elegibles en {year} "
                                "(1 = mayor necesidad); los no elegibles en gris.",
                            caption="Quintil del puntaje de necesidad entre los elegibles (1 = mayor necesidad).")
            + "</div>")


def coverage_year(conn, year: int) -> int | None:
    """The year the coverage map shows: ``year`` when ESAP has assistances of that goal year,
    else the latest one before it (a list made in January has no assistances yet)."""
    if not _has(conn, "fct_technical_assistance"):
        return None
    return conn.execute("select max(goal_year) from marts.fct_technical_assistance "
                        "where status <> 'Cancelada' and goal_year <= %s", (year,)).fetchone()[0]


def coverage_map(conn, year: int, sample: bool, boundaries=None) -> str:
    """Municipalities reached in ``year`` (or the latest year before it with assistances),
    coloured by the directorate that reached them; the others in grey."""
    if not (_has(conn, "dim_municipality") and _has(conn, "dim_territorial_directorate")):
        return ""
    shown = coverage_year(conn, year)
    if shown is None:
        return ""
    where = maps.coordinates(conn)
    directorates = conn.execute("select directorate_id, coalesce(label_name, directorate_name, directorate_id) "
                                "from marts.dim_territorial_directorate order by directorate_id").fetchall()
    groups = [NOT_REACHED] + [Group(code, f"{label} ({code})", PALETTE[i % len(PALETTE)])
                              for i, (code, label) in enumerate(directorates)]
    # the directorate that reached it (the first by code when two did, as rare as a shared border)
    reached = dict(conn.execute("""
        select municipality_id, min(directorate_id) from marts.fct_technical_assistance
        where status <> 'Cancelada' and goal_year = %s group by municipality_id""", (shown,)).fetchall())
    places = []
    for code, name, entity_type in conn.execute("select municipality_id, municipality_name, entity_type "
                                                "from marts.dim_municipality order by municipality_id"):
        if code in reached:
            places.append(maps.place(code, place_name(name) or code, reached[code], where))
        elif entity_type != "area_no_municipalizada":
            places.append(maps.place(code, place_name(name) or code, NOT_REACHED.key, where))
    known = {g.key for g in groups}
    groups += [Group(k, k, "#000000") for k in sorted(set(reached.values()) - known)]
    note = "" if shown == year else f" (el último año con asistencias registradas; {year} aún no tiene)"
    return maps.map_html(
        places, groups, title=f"Dónde trabajó la ESAP en {shown}{note}", map_id="mapa-cobertura", sample=sample,
        boundaries=boundaries,
        alt=f"Mapa de Colombia con los {number(len(reached))} municipios alcanzados en {shown}, coloreados por la "
            "dirección territorial que los alcanzó; los demás en gris.",
        caption=f"Un municipio está alcanzado en {shown} cuando tiene al menos una asistencia de esa vigencia que "
                "no fue cancelada (como en la cobertura por dirección territorial).")


def sheet_map(conn, row: dict, sample: bool, boundaries=None) -> str:
    """The sheet's municipality among its directorate's municipalities, its capacity-group peers marked."""
    if not _has(conn, "dim_municipality"):
        return ""
    where = maps.coordinates(conn)
    group = row.get("capacity_group")
    code = row["municipality_id"]
    peers_label = f"Pares de su grupo de capacidades ({group})" if group else "Pares de su grupo de capacidades"
    groups = (Group("otros", "Otros municipios de la dirección", SHEET_COLOURS["otros"]),
              Group("pares", peers_label, SHEET_COLOURS["pares"]),
              Group("este", "Este municipio", SHEET_COLOURS["este"]))
    places = []
    for other, name, capacity in conn.execute(
            "select municipality_id, municipality_name, capacity_group from marts.dim_municipality "
            "where directorate_id = %s and (entity_type <> 'area_no_municipalizada' or municipality_id = %s) "
            "order by municipality_id", (row["directorate_id"], code)):
        key = "este" if other == code else "pares" if group and capacity == group else "otros"
        places.append(maps.place(other, place_name(name) or other, key, where, ring=other == code))
    if not any(p.code == code for p in places):  # a municipality whose directorate the dimension disagrees on
        places.append(maps.place(code, place_name(row["municipality_name"]) or code, "este", where, ring=True))
    name = place_name(row["municipality_name"]) or code
    peers = sum(1 for p in places if p.group == "pares")
    return maps.map_html(
        places, groups, title=f"{name} en su dirección territorial", map_id="mapa-ficha", sample=sample,
        boundaries=boundaries,
        alt=f"Mapa de los {number(len(places))} municipios de la dirección territorial "
            f"{row.get('directorate_name') or row['directorate_id']}: {name} marcado con un anillo y sus "
            f"{number(peers)} pares del grupo de capacidades {group or 'sin grupo'} en azul.",
        caption="Los municipios de la misma dirección territorial; en azul, los del mismo grupo de capacidades del "
                "DNP, con los que la ficha compara sus indicadores.")


def open_work_map(conn, sample: bool, boundaries=None) -> str:
    """The latest week's open work per municipality: the point's size grows with its items, its
    colour is its most urgent alert."""
    if not (_has(conn, "mart_open_work") and _has(conn, "dim_municipality")):
        return ""
    rows = conn.execute("""
        select municipality_id, max(municipality_name), count(*),
               bool_or(flag = 'overdue'), bool_or(flag = 'due_soon_without_action_plan'),
               bool_or(flag = 'delivered_without_satisfaction'), max(as_of_date)
        from marts.mart_open_work where is_latest_week group by municipality_id order by municipality_id""").fetchall()
    if not rows:
        return ""
    where = maps.coordinates(conn)
    places = []
    biggest = max(r[2] for r in rows)
    for code, name, items, overdue, due_soon, unscored, _ in rows:
        key = ("overdue" if overdue else "due_soon_without_action_plan" if due_soon
               else "delivered_without_satisfaction" if unscored else "abierta")
        places.append(maps.place(code, f"{place_name(name) or code}: {number(items)} pendientes", key, where,
                                 size=0.8 + 1.4 * (items / biggest) ** 0.5))
    as_of = max(r[6] for r in rows)
    return maps.map_html(
        places, FLAGS, title=f"Trabajo abierto por municipio, corte del {as_of:%d/%m/%Y}", map_id="mapa-pendientes",
        sample=sample, boundaries=boundaries, size_label=f"El tamaño crece con los pendientes (hasta {biggest})",
        alt=f"Mapa de Colombia con los {number(len(places))} municipios que tienen trabajo abierto en la última "
            "exportación, coloreados por su alerta más urgente y de tamaño según el número de pendientes.",
        caption="Cada municipio con asistencias abiertas o entregas sin calificación, con el color de su alerta más "
                "urgente (vencida, por vencer sin plan de acción, entregada sin calificación) de cualquier dirección.")
