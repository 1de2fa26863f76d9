"""Simulated ESAP assistances: who gets help, how each assistance moves through its states.

Selection follows need (more assistance to low-capacity, PDET and 5th/6th category
municipalities), so a naive comparison of assisted and unassisted municipalities is biased, as in
reality. Each assistance has a lifecycle; an export taken on a date shows each assistance as it
stood that day, so successive exports restate earlier rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sinfonia.sample.geography import _read_seed
from sinfonia.sample.model import World
from sinfonia.sample.writers import fmt_date

PER_YEAR = 620  # about 1,860 assistances in 2023–2025, as ESAP reported
PRODUCTS = {
    "INN": "Proyecto de innovación pública", "ETN": "Política pública de equidad de género",
    "PAZ": "Ruta de implementación PDET", "CON": "Manual de contratación", "RED": "Propuesta de rediseño institucional",
    "POT": "Documento de revisión del EOT", "PDM": "Plan de desarrollo municipal", "TRA": "Plan de transparencia",
}


@dataclass
class Assistance:
    id: str
    goal_year: int
    entity_code: str
    thematic_line: str
    team: str
    created: date
    agreed: date
    action_plan: date
    due: date
    delivered: date | None
    cancelled: date | None
    quality: int
    satisfaction: int | None
    servants: int
    students: int

    def status(self, on: date) -> str:
        if self.cancelled and self.cancelled <= on:
            return "Cancelada"
        if self.delivered and self.delivered <= on:
            return "Entregada"
        if self.action_plan <= on:
            return "En implementación"
        if self.agreed <= on:
            return "Concertada"
        if self.created + timedelta(days=7) <= on:
            return "En diagnóstico"
        return "Programada"


def assistance_years(world: World) -> list[int]:
    return list(range(max(world.first_year, world.last_year - 2), world.last_year + 1))


def simulate(world: World, scale: float = 1.0) -> list[Assistance]:
    rng = world.rng("assistances")
    lines = [r["thematic_line_id"] for r in _read_seed("thematic_lines.csv")]
    candidates = [e for e in world.entities if e.entity_type == "municipio"]
    weights = []
    for e in candidates:
        w = (1.05 - world.capacity[e.code]) ** 2
        if e.code in world.pdet:
            w *= 2.0
        if world.category(e.code, world.last_year) in ("5", "6"):
            w *= 1.5
        weights.append(w)
    out: list[Assistance] = []
    n = max(1, round(PER_YEAR * scale))
    for year in assistance_years(world):
        chosen = rng.choices(candidates, weights=weights, k=n)
        for k, e in enumerate(chosen, start=1):
            created = date(year, 1, 15) + timedelta(days=rng.randint(0, 260))
            agreed = created + timedelta(days=rng.randint(10, 30))
            action_plan = agreed + timedelta(days=rng.randint(10, 25))
            due = action_plan + timedelta(days=rng.randint(60, 150))
            cancelled = created + timedelta(days=rng.randint(20, 120)) if rng.random() < 0.05 else None
            delivered = None if cancelled else due + timedelta(days=round(rng.gauss(-5, 20)))
            delivered = max(delivered, action_plan + timedelta(days=14)) if delivered else None
            team_no = 1 + rng.randrange(4)
            out.append(Assistance(
                id=f"AT-{year}-{k:05d}", goal_year=year, entity_code=e.code,
                thematic_line=rng.choice(lines), team=f"Equipo {e.directorate_id} {team_no}",
                created=created, agreed=agreed, action_plan=action_plan, due=due,
                delivered=delivered, cancelled=cancelled,
                quality=min(5, max(1, round(rng.gauss(4.0, 0.8)))),
                satisfaction=None if rng.random() < 0.2 else min(5, max(1, round(rng.gauss(4.2, 0.7)))),
                servants=rng.randint(1, 12), students=rng.randint(0, 6),
            ))
    return out


def export_dates(world: World) -> list[date]:
    years = assistance_years(world)
    return [date(y, 12, 31) for y in years[:-1]] + [date(years[-1], 11, 20)]


def export_rows(world: World, assistances: list[Assistance], on: date) -> list[list]:
    by_code = {e.code: e for e in world.entities}
    directorates = {r["directorate_id"]: r["directorate_name"] for r in _read_seed("territorial_directorates.csv")}
    lines = {r["thematic_line_id"]: r["thematic_line_name"] for r in _read_seed("thematic_lines.csv")}
    rows = []
    for a in assistances:
        if a.created > on:
            continue
        e = by_code[a.entity_code]
        status = a.status(on)
        shown = lambda d: d if d and d <= on else None  # noqa: E731
        delivered = shown(a.delivered) if status == "Entregada" else None
        rows.append([
            a.id, a.goal_year, directorates[e.directorate_id], e.code, e.department_name, e.name,
            lines[a.thematic_line], a.team, status, fmt_date(shown(a.agreed)),
            fmt_date(shown(a.action_plan)), fmt_date(a.due if shown(a.action_plan) else None),
            fmt_date(delivered), PRODUCTS[a.thematic_line] if delivered else "",
            a.servants, a.students, a.quality if delivered else "",
            a.satisfaction if delivered and a.satisfaction else "", "",
        ])
    return rows


def goal_rows(world: World, assistances: list[Assistance]) -> list[list]:
    """Metas: per year, directorate and line, about what was eventually planned (±20%)."""
    rng = world.rng("goals")
    by_code = {e.code: e for e in world.entities}
    directorates = {r["directorate_id"]: r["directorate_name"] for r in _read_seed("territorial_directorates.csv")}
    lines = {r["thematic_line_id"]: r["thematic_line_name"] for r in _read_seed("thematic_lines.csv")}
    planned: dict[tuple, int] = {}
    for a in assistances:
        key = (a.goal_year, by_code[a.entity_code].directorate_id, a.thematic_line)
        planned[key] = planned.get(key, 0) + 1
    rows = []
    for year in assistance_years(world):
        for d in sorted(directorates):
            for line in sorted(lines):
                n = planned.get((year, d, line), 0)
                rows.append([year, directorates[d], lines[line], max(0, round(n * rng.uniform(0.85, 1.2)))])
    return rows


# -- Equipos (person level, sensitive): synthetic people only -------------------------------------
GROUP_LABELS = {  # label as ESAP staff type it → weight among people in some group
    "Afrodescendiente/Raizal/Palenquero": 0.25, "Indígena": 0.15, "LGBTIQ+": 0.12,
    "Migrante": 0.07, "Víctima del conflicto": 0.35, "Persona con discapacidad": 0.06,
}
UNDER_REPRESENTED_SHARE = 0.18  # of professionals, as ESAP reported for 2024
FIRST_NAMES = ("Ana", "Luis", "María", "Carlos", "Diana", "Jorge", "Paola", "Andrés", "Luz", "Camilo",
               "Sandra", "Felipe", "Yuli", "Óscar", "Natalia", "Wilson", "Marcela", "Jhon", "Ángela", "Iván")
SURNAMES = ("Gómez", "Rodríguez", "Martínez", "Mosquera", "Palacios", "Jaramillo", "Quiñones", "Cárdenas",
            "Rentería", "Ospina", "Zambrano", "Valencia", "Ibarguen", "Chaverra", "Muñoz", "Pérez")


def team_rows(world: World, teams_per_directorate: int = 4) -> list[list]:
    """Members of the teams the assistances name ("Equipo <DIR> <n>"), per year, with turnover.

    Professionals (5–9 per team) and students (2–6) are synthetic people: random names and
    document numbers. About 18% of professionals belong to an under-represented group.
    """
    rng = world.rng("equipos")
    directorates = {r["directorate_id"]: r["directorate_name"] for r in _read_seed("territorial_directorates.csv")}
    labels, weights = list(GROUP_LABELS), list(GROUP_LABELS.values())
    used: set[str] = set()

    def person(role: str) -> dict:
        doc = str(rng.randint(10_000_000, 1_299_999_999))
        while doc in used:
            doc = str(rng.randint(10_000_000, 1_299_999_999))
        used.add(doc)
        share = UNDER_REPRESENTED_SHARE if role == "Profesional" else 0.2
        groups = []
        if rng.random() < share:
            groups = rng.choices(labels, weights=weights, k=2 if rng.random() < 0.15 else 1)
        return {"doc": doc, "role": role, "groups": sorted(set(groups)),
                "name": f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)} {rng.choice(SURNAMES)}"}

    rosters: dict[str, list[dict]] = {}
    rows = []
    for year in assistance_years(world):
        for d in sorted(directorates):
            for n in range(1, teams_per_directorate + 1):
                team = f"Equipo {d} {n}"
                kept = [p for p in rosters.get(team, []) if rng.random() < 0.75]
                wanted = {"Profesional": rng.randint(5, 9), "Estudiante": rng.randint(2, 6)}
                members = []
                for role, count in wanted.items():
                    same = [p for p in kept if p["role"] == role][:count]
                    members += same + [person(role) for _ in range(count - len(same))]
                rosters[team] = members
                for p in members:
                    sep = rng.choice(["; ", ", ", " | "])
                    rows.append([year, directorates[d], team, p["doc"], p["name"], p["role"],
                                 sep.join(p["groups"]) or "Ninguno"])
    return rows
