"""The latent world the sample files are drawn from: capacity, need, PDET, categories.

One ``World`` per seed. Every writer reads the same world, so the sources agree with each other
the way real ones do (poor municipalities have low IDF and MDM, high IPM, 6th category, and
receive more assistance).
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field

from sinfonia.sample.geography import Entity, universe

# Subregion → [(department, municipalities)] (170 municipalities, 16 subregions).
PDET_SUBREGIONS = {
    "ALTO PATÍA Y NORTE DEL CAUCA": [("19", 17), ("52", 4), ("76", 3)],
    "ARAUCA": [("81", 4)],
    "BAJO CAUCA Y NORDESTE ANTIOQUEÑO": [("05", 13)],
    "CATATUMBO": [("54", 8)],
    "CHOCÓ": [("27", 12), ("05", 2)],
    "CUENCA DEL CAGUÁN Y PIEDEMONTE CAQUETEÑO": [("18", 16), ("41", 1)],
    "MACARENA - GUAVIARE": [("50", 8), ("95", 4)],
    "MONTES DE MARÍA": [("13", 7), ("70", 8)],
    "PACÍFICO MEDIO": [("19", 3), ("76", 1)],
    "PACÍFICO Y FRONTERA NARIÑENSE": [("52", 11)],
    "PUTUMAYO": [("86", 9)],
    "SIERRA NEVADA - PERIJÁ": [("20", 8), ("47", 4), ("44", 3)],
    "SUR DE BOLÍVAR": [("13", 7)],
    "SUR DE CÓRDOBA": [("23", 5)],
    "SUR DEL TOLIMA": [("73", 4)],
    "URABÁ ANTIOQUEÑO": [("05", 8)],
}


@dataclass
class World:
    seed: int
    first_year: int
    last_year: int
    entities: list[Entity]
    capacity: dict[str, float] = field(default_factory=dict)  # 0 (low) … 1 (high)
    pdet: dict[str, str] = field(default_factory=dict)  # code → subregion
    _rank: dict[str, float] = field(default_factory=dict, repr=False)

    @property
    def municipal(self) -> list[Entity]:
        return [e for e in self.entities if e.is_municipal]

    def rng(self, purpose: str) -> random.Random:
        return random.Random(f"{purpose}-{self.seed}")

    def category(self, code: str, year: int) -> str:
        """Ley 617 category: mostly 6th, larger ones for high capacity; drifts slowly."""
        c = self.capacity[code] + 0.01 * ((zlib.crc32(f"{code}-{year // 3}".encode()) % 5) - 2)
        if code.endswith("001") and self.capacity[code] > 0.85:
            return "E" if c > 0.95 else "1"
        for threshold, cat in ((0.93, "1"), (0.9, "2"), (0.87, "3"), (0.84, "4"), (0.78, "5")):
            if c > threshold:
                return cat
        return "6"

    def capacity_group(self, code: str) -> str:
        if code.endswith("001") and self.capacity[code] > 0.8:
            return "C"
        if not self._rank:
            ranked = sorted((e.code for e in self.municipal), key=lambda k: (-self.capacity[k], k))
            self._rank.update({k: i / len(ranked) for i, k in enumerate(ranked)})
        return f"G{min(5, int(self._rank[code] * 5) + 1)}"


def build_world(seed: int = 42, first_year: int = 2016, last_year: int = 2025,
                municipalities: int | None = None) -> World:
    entities = universe(seed, municipalities)
    world = World(seed, first_year, last_year, entities)
    rng = world.rng("capacity")
    for e in entities:
        base = rng.betavariate(2.0, 3.5)
        if e.code.endswith("001"):
            base = 0.65 + 0.35 * base  # departmental capitals
        world.capacity[e.code] = round(base, 4)
    rng = world.rng("pdet")
    for subregion, parts in PDET_SUBREGIONS.items():
        for dept, count in parts:
            candidates = sorted(
                (e for e in entities if e.department_code == dept and e.entity_type == "municipio"
                 and e.code not in world.pdet),
                key=lambda e: world.capacity[e.code],
            )
            pool = candidates[: max(count, len(candidates) * 2 // 3)]
            for e in rng.sample(pool, min(count, len(pool))):
                world.pdet[e.code] = subregion
    return world
