"""The weekly message's wording (Spanish) from hand-built figures: place and change, goal, open work."""

from datetime import date

import pytest

from sinfonia.notify import Digest


def digest(**overrides) -> Digest:
    values = dict(
        directorate_id="ANT", label_name="Disquera Montaña Paisa", directorate_name="Dirección Territorial Antioquia",
        export_week=date(2025, 11, 17), as_of_date=date(2025, 11, 20), goal_year=2025, rank=3, directorates=16,
        points=1234, goal=30, delivered=20, goal_completion=0.6667, previous_rank=5, previous_week=date(2025, 11, 10),
        open_items=7, flagged={"overdue": 2, "due_soon_without_action_plan": 1, "delivered_without_satisfaction": 4},
        items=[], recipients=["direccion.ant@example.org"],
    )
    values.update(overrides)
    return Digest(**values)


@pytest.mark.parametrize(("previous", "expected"), [
    (5, "Sube 2 puestos desde la semana del 10/11/2025."),
    (4, "Sube 1 puesto desde la semana del 10/11/2025."),
    (3, "Mantiene su puesto desde la semana del 10/11/2025."),
    (2, "Baja 1 puesto desde la semana del 10/11/2025."),
    (None, "Primera semana registrada de la vigencia: sin comparación con la semana anterior."),
])
def test_the_change_of_place_is_told_against_the_previous_week(previous, expected):
    assert digest(previous_rank=previous).change() == expected


def test_subject_and_body_carry_place_points_goal_and_open_work_in_spanish():
    d = digest()
    assert d.subject == "Sinfonía · Disquera Montaña Paisa: puesto 3 de 16 · semana del 17/11/2025"
    html = d.html()
    assert "Puesto <b>3</b> de 16 en la tabla de posiciones de la vigencia 2025 (<b>1.234</b> puntos)" in html
    assert "<b>20</b> de <b>30</b> canciones entregadas (<b>66,7 %</b> de la lista)" in html
    assert "(ni entregadas ni canceladas): <b>7</b>. Con alerta: <b>2</b> vencidas, <b>1</b> por vencer" in html
    assert "<b>4</b> entregadas sin calificación de satisfacción" in html
    assert d.flagged_items == 7


def test_no_goal_and_sample_data_are_said_plainly():
    d = digest(goal=None, goal_completion=None, sample=True)
    assert d.subject.startswith("[MUESTRA] ")
    assert "Sin meta registrada para la vigencia; <b>20</b> canciones entregadas." in d.html()
    assert "DATOS SINTÉTICOS DE MUESTRA" in d.html()


def test_items_are_listed_escaped_with_their_days():
    items = [
        {"assistance_id": "AT-1", "team_name": "Equipo <b>", "municipality_name": "Medellín", "municipality_id": "05001",
         "thematic_line_name": "Innovación", "status": "En implementación", "due_date": date(2025, 11, 1),
         "days_overdue": 19, "days_left": None, "days_since_delivery": None, "flag_label": "Vencida"},
        {"assistance_id": "AT-2", "team_name": None, "municipality_name": None, "municipality_id": "05002",
         "thematic_line_name": None, "status": "Concertada", "due_date": date(2025, 11, 20),
         "days_overdue": None, "days_left": 0, "days_since_delivery": None, "flag_label": None},
    ]
    html = digest(items=items).html()
    assert "<td>Equipo &lt;b&gt;</td>" in html and "<td>19 de retraso</td>" in html
    assert "<td>faltan 0</td>" in html and "<td>05002</td>" in html
    assert "Las 2 primeras por atender, de 11:" in html
