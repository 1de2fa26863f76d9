import tempfile
from pathlib import Path

from sinfonia.ingest.landing import LandedFile, sha256_of


def landed(path: Path, source: str = "test", published_on=None) -> LandedFile:
    """A file as the parsers see it after landing, without a warehouse. Sources that transform
    files on landing (``prepare_for_landing``: the pseudonymised equipos export) get that copy."""
    from sinfonia.ingest.sources import SOURCES

    path = Path(path)
    prepare = SOURCES[source].prepare_for_landing if source in SOURCES else None
    if prepare is not None:
        name, content = prepare(path)
        path = Path(tempfile.mkdtemp(prefix="landed-")) / name
        path.write_bytes(content)
    return LandedFile(sha256_of(path), source, path, path.name, str(path.name), path.stat().st_size, published_on)
