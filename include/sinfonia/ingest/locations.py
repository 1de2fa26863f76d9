"""Where each source is published (SOURCES.md): used by ``sinfonia extract SOURCE --from published``.

``socrata`` locations are paged through the datos.gov.co API (JSON pages); ``file`` locations
are one download. ``sha256`` is set where a published checksum of the file is known.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    source: str
    kind: str  # "socrata" | "file"
    url: str
    expect: str  # "json" | "xlsx" | "csv"
    order: str | None = None  # a stable $order for socrata paging
    file_name: str | None = None  # the name to land a file under (else the URL's last segment)
    sha256: str | None = None
    note: str = ""


KEYWORDS = ("published", "socrata")

LOCATIONS: dict[str, Location] = {
    "divipola": Location(
        "divipola", "socrata", "https://www.datos.gov.co/resource/gdxc-w37w.json", "json",
        order="cod_mpio", note="DANE DIVIPOLA, datos.gov.co gdxc-w37w (1,122 rows)",
    ),
    "mdm": Location(
        "mdm", "socrata", "https://www.datos.gov.co/resource/nkjx-rsq7.json", "json",
        order="codigo_entidad,anio,indicador", note="DNP MDM long format, datos.gov.co nkjx-rsq7",
    ),
    "ipm": Location(
        "ipm", "file",
        "https://www.dane.gov.co/files/investigaciones/condiciones_vida/pobreza/2018/"
        "informacion-censal/anexo-censal-pobreza-municipal-2018.xlsx", "xlsx",
        sha256="a3ac3a60498ad1b19a9aa64e27c8810e4251377ce93effcf7d53fe756f8c826f",
        note="DANE IPM municipal, census 2018 annex",
    ),
    "imrc": Location(
        "imrc", "file",
        "https://colaboracion.dnp.gov.co/CDT/PublishingImages/La_Entidad/Directivos/Direccciones/"
        "ambiente-y-desarrollo-sostenible/Gestion-del-Riesgo-de-Desastres/IMRC-BASE-DE-DATOS-2024.xlsx",
        "xlsx", note="DNP IMRC 2024 (the server sends an incomplete TLS chain)",
    ),
}


def location(source: str) -> Location:
    if source not in LOCATIONS:
        raise LookupError(f"no published location known for {source!r}; known: {', '.join(LOCATIONS)}; "
                       "pass a URL or a path with --from")
    return LOCATIONS[source]


def guess_expect(url: str) -> str | None:
    """What a URL should serve, from its path (None when it does not say)."""
    path = url.split("?", 1)[0].lower()
    for ext, kind in ((".xlsx", "xlsx"), (".xlsm", "xlsx"), (".csv", "csv"), (".json", "json")):
        if path.endswith(ext):
            return kind
    return None
