"""A synthetic but national-size territorial universe, consistent with the dbt seeds.

Department codes, names and the number of municipalities per department follow the real
DIVIPOLA edition (1,102 municipalities with Bogotá, the island 88001 and 19 non-municipalised
areas: 1,122 entities). Municipality names are invented, department capitals keep code ``xx001``,
the non-municipalised areas and Putumayo's municipalities keep their real codes (the seeds'
directorate overrides refer to them). Every synthetic municipality is a deterministic function
of the seed.

Coordinates (``coordinates``) are synthetic too: a point drawn around a rough centre of the real
department (capitals near it), so that maps of the sample look like Colombia; they are not the
municipalities' locations (the names are invented anyway).
"""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass

from sinfonia import config

# Municipalities (entity type "municipio") per department, as in DIVIPOLA.
MUNICIPALITIES_PER_DEPARTMENT = {
    "05": 125, "08": 23, "11": 1, "13": 46, "15": 123, "17": 27, "18": 16, "19": 42, "20": 25,
    "23": 30, "25": 117, "27": 30, "41": 37, "44": 15, "47": 30, "50": 29, "52": 64, "54": 40,
    "63": 12, "66": 14, "68": 87, "70": 26, "73": 47, "76": 42, "81": 7, "85": 19, "86": 13,
    "88": 1, "91": 2, "94": 1, "95": 4, "97": 3, "99": 4,
}
ISLAND = ("88001", "San Andrés")
NON_MUNICIPALISED = {
    "91": ["91263", "91405", "91407", "91430", "91460", "91530", "91536", "91669", "91798"],
    "94": ["94663", "94883", "94884", "94885", "94886", "94887", "94888"],
    "97": ["97511", "97777", "97889"],
}
PUTUMAYO = {
    "86001": "Mocoa", "86219": "Colón", "86320": "Orito", "86568": "Puerto Asís",
    "86569": "Puerto Caicedo", "86571": "Puerto Guzmán", "86573": "Puerto Leguízamo",
    "86749": "Sibundoy", "86755": "San Francisco", "86757": "San Miguel", "86760": "Santiago",
    "86865": "Valle del Guamuez", "86885": "Villagarzón",
}
# Department → (latitude, longitude, spread in degrees): a rough centre of the real department and
# how far its synthetic municipalities scatter around it. Approximate, for plausible sample maps.
DEPARTMENT_CENTRES = {
    "05": (6.9, -75.6, 1.1), "08": (10.7, -74.95, 0.25), "11": (4.65, -74.1, 0.0), "13": (8.9, -74.5, 0.9),
    "15": (5.8, -73.1, 0.7), "17": (5.3, -75.3, 0.3), "18": (1.2, -74.6, 0.9), "19": (2.4, -76.8, 0.7),
    "20": (9.4, -73.5, 0.7), "23": (8.4, -75.8, 0.5), "25": (4.8, -74.2, 0.55), "27": (5.9, -76.8, 0.8),
    "41": (2.5, -75.6, 0.55), "44": (11.3, -72.6, 0.55), "47": (10.1, -74.3, 0.55), "50": (3.4, -73.1, 0.9),
    "52": (1.4, -77.6, 0.6), "54": (8.0, -72.9, 0.55), "63": (4.45, -75.7, 0.12), "66": (5.0, -75.9, 0.2),
    "68": (6.8, -73.4, 0.6), "70": (9.1, -75.1, 0.35), "73": (4.0, -75.1, 0.55), "76": (4.0, -76.4, 0.45),
    "81": (6.6, -71.1, 0.45), "85": (5.3, -71.8, 0.6), "86": (0.6, -76.3, 0.5), "88": (12.55, -81.7, 0.0),
    "91": (-2.0, -71.6, 1.3), "94": (2.6, -68.6, 0.7), "95": (2.0, -72.4, 0.55), "97": (0.6, -70.6, 0.55),
    "99": (4.7, -69.6, 0.9),
}
# The archipelago's two entities lie 90 km apart: fixed points instead of a scatter.
FIXED_POINTS = {"88001": (12.58, -81.7), "88564": (13.35, -81.37)}
_PREFIX = ["", "", "", "San ", "Santa ", "Puerto ", "Villa ", "El ", "La ", "Nueva ", "Alto ", "Río "]
_ROOT = [
    "Rosario", "Esperanza", "Bolívar", "Guadalupe", "Carmen", "Paraíso", "Tamalameque", "Chiquinquirá",
    "Ábrego", "Güicán", "Sogamoso", "Cúcuta", "Zipacón", "Tenjo", "Nemocón", "Sopó", "Guática",
    "Marsella", "Córdoba", "Támesis", "Jericó", "Andes", "Urrao", "Yarumal", "Cáceres", "Nechí",
    "Segovia", "Amalfi", "Remedios", "Cisneros", "Sonsón", "Abriaquí", "Peñol", "Belmira", "Mutatá",
    "Tuluá", "Buga", "Pradera", "Cartago", "Ginebra", "Toro", "Yotoco", "Calima", "Dagua", "Versalles",
    "Fómeque", "Ubaté", "Simijaca", "Guachetá", "Lenguazaque", "Gachalá", "Junín", "Chocontá", "Tocancipá",
    "Arauquita", "Saravena", "Tame", "Fortul", "Cravo", "Orocué", "Maní", "Pore", "Támara", "Nunchía",
    "Mompós", "Magangué", "Achí", "Talaigua", "Pinillos", "Morales", "Arenal", "Tiquisio", "Soplaviento",
    "Corozal", "Sincé", "Galeras", "Ovejas", "Tolú", "Coveñas", "Majagual", "Guaranda", "Caimito",
    "Ciénaga", "Aracataca", "Fundación", "Plato", "Tenerife", "Guamal", "Pivijay", "Salamina", "Sitionuevo",
    "Ipiales", "Túquerres", "Samaniego", "Barbacoas", "Tumaco", "Sandoná", "Consacá", "Yacuanquer", "Funes",
]
_SUFFIX = ["", "", "", "", " de Oriente", " del Norte", " del Sur", " de la Sierra", " Viejo", " del Río"]


@dataclass(frozen=True)
class Entity:
    code: str
    name: str
    department_code: str
    department_name: str
    entity_type: str  # municipio, isla, area_no_municipalizada
    directorate_id: str

    @property
    def is_municipal(self) -> bool:
        """Municipalities and the island: the prioritisation universe and the IDF's."""
        return self.entity_type != "area_no_municipalizada"


def _read_seed(name: str) -> list[dict]:
    with open(config.DBT_DIR / "seeds" / name, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def departments() -> dict[str, tuple[str, str]]:
    """department code → (name, directorate id), from the dbt seed."""
    return {r["department_id"]: (r["department_name"], r["directorate_id"])
            for r in _read_seed("directorate_departments.csv")}


def municipality_overrides() -> dict[str, str]:
    return {r["municipality_id"]: r["directorate_id"]
            for r in _read_seed("directorate_municipality_overrides.csv")}


def _names(rng: random.Random, n: int) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < n:
        name = (rng.choice(_PREFIX) + rng.choice(_ROOT) + rng.choice(_SUFFIX)).strip()
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def universe(seed: int = 42, municipalities: int | None = None) -> list[Entity]:
    """The territorial entities, national size by default.

    ``municipalities`` keeps only the first N municipalities of each department in proportion
    (at least one each), for small and fast test samples.
    """
    rng = random.Random(f"geo-{seed}")
    depts = departments()
    overrides = municipality_overrides()
    total = sum(MUNICIPALITIES_PER_DEPARTMENT.values())
    out: list[Entity] = []
    for dept, count in MUNICIPALITIES_PER_DEPARTMENT.items():
        dname, directorate = depts[dept]
        if municipalities is not None:
            count = max(1, round(count * municipalities / total))
        if dept == "86":
            codes_names = list(PUTUMAYO.items())[:count]
        elif dept == "11":
            codes_names = [("11001", "Bogotá, D.C.")]
        elif dept == "88":
            codes_names = [("88564", "Providencia")]
        else:
            names = _names(rng, count)
            codes, nxt = ["001"], 1
            max_step = max(1, min(14, 998 // count))
            while len(codes) < count:
                nxt += rng.randint(1, max_step)
                codes.append(f"{nxt:03d}")
            codes_names = [(dept + c, n) for c, n in zip(codes, names, strict=False)]
        for code, name in codes_names:
            out.append(Entity(code, name, dept, dname, "municipio", overrides.get(code, directorate)))
        if dept == "88":
            out.append(Entity(ISLAND[0], ISLAND[1], dept, dname, "isla", directorate))
        for code in NON_MUNICIPALISED.get(dept, []):
            if municipalities is None or code == NON_MUNICIPALISED[dept][0]:
                out.append(Entity(code, f"Área no municipalizada {code[2:]}", dept, dname,
                                  "area_no_municipalizada", directorate))
    return sorted(out, key=lambda e: e.code)


def coordinates(entities: list[Entity], seed: int = 42) -> dict[str, tuple[float, float]]:
    """Synthetic (latitude, longitude) per entity code, WGS84 degrees rounded to 6 decimals.

    Each point depends only on the seed and the code, so a small sample's municipalities sit where
    the national sample puts them. Department capitals (``xx001``) lie near their department's
    centre, the others uniformly within its spread.
    """
    out: dict[str, tuple[float, float]] = {}
    for e in entities:
        if e.code in FIXED_POINTS:
            out[e.code] = FIXED_POINTS[e.code]
            continue
        lat0, lon0, spread = DEPARTMENT_CENTRES[e.department_code]
        rng = random.Random(f"coordinates-{seed}-{e.code}")
        radius = spread * (0.15 if e.code.endswith("001") else 1.0) * math.sqrt(rng.random())
        angle = rng.uniform(0, 2 * math.pi)
        out[e.code] = (round(lat0 + radius * math.sin(angle), 6),
                       round(lon0 + radius * math.cos(angle) / math.cos(math.radians(lat0)), 6))
    return out
