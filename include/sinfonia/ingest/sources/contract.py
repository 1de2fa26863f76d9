"""What every parser owes the person loading a file, written once.

- No optional column disappears without a word: each column of a source's contract that a file's
  header does not supply is named in the load's message (``meta.load_run.message`` and the
  extract's output), with the header that would have supplied it.
- A column recognised in the header whose published values all fail to map (every cell filled,
  nothing loaded) is an error naming the file, the column, the header and the first value: a
  silent column of NULLs is exactly the loss this rule is there to prevent.
"""

from __future__ import annotations

from sinfonia.ingest.loading import Batch
from sinfonia.ingest.tables import SourceFormatError, Table, cell_text


def account_for_columns(batch: Batch, table: Table) -> None:
    """After ``table``'s rows are in ``batch``: the notice for every optional column the file
    lacks, and the error for a recognised column none of whose published values loaded."""
    batch.note_headers(table.file_name, table.headers)
    missing = [name for name in table.missing if name in batch.columns]
    if missing:
        batch.notices.append(
            f"{table.where}: no column for " + ", ".join(f"{n} (a header such as {table.missing[n]!r})"
                                                          for n in missing)
            + "; loaded without it (empty in raw)")
    rows = [r for r in batch.rows if r[0] == table.file_name]
    if not rows:
        return
    for name in table.positions:
        if name not in batch.columns:
            continue
        at = 2 + batch.columns.index(name)
        if any(r[at] is not None for r in rows):
            continue
        published = [(n, rec[name]) for n, rec in table.records() if cell_text(rec[name]) is not None]
        if published:
            row, value = published[0]
            raise SourceFormatError(
                f"{table.where}, column {table.headers[name]!r} (read as {name}): none of its {len(published)} "
                f"published values could be loaded (first at row {row}: {cell_text(value)!r}); expected "
                f"values this source publishes for {name}. Nothing was loaded.")
