from pathlib import Path

from sinfonia.landing import LandedFile, sha256_of


def landed(path: Path, source: str = "test", published_on=None) -> LandedFile:
    """A file as the parsers see it after landing, without a warehouse."""
    path = Path(path)
    return LandedFile(sha256_of(path), source, path, path.name, str(path.name), path.stat().st_size, published_on)
