"""Loader throughput: the project's COPY loader against pandas ``to_sql`` and bare ``COPY``.

The same rows (IDF-like: nine text columns plus lineage) go into the same server in the same
run, each into a fresh table; rows per second are compared as ratios measured here and now.
"""

from __future__ import annotations

import random
import time

import psycopg

from sinfonia.ingest.loading import Batch, load_batch

COLUMNS = ("year", "methodology", "municipality_code", "department_name", "municipality_name",
           "idf_score", "range_label", "category", "capacity_group")


def make_rows(n: int, seed: int = 1) -> list[tuple]:
    rng = random.Random(seed)
    return [
        ("bench.xlsx", i + 9, str(2015 + i % 10), "nueva", f"{5000 + i % 90000:05d}", "ANTIOQUIA",
         f"MUNICIPIO {i}", repr(rng.uniform(20, 90)), "3. Vulnerable (>=60 y <70)", "6", "G4")
        for i in range(n)
    ]


def _fresh(conn, table: str) -> None:
    conn.execute(f"drop table if exists bench.{table}")


def bench_loader(dsn: str, rows: list[tuple]) -> float:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("drop table if exists raw.bench_loader")
        conn.execute("delete from meta.load_run where source = 'bench_loader'")
        batch = Batch("bench_loader", "bench", COLUMNS, rows=rows)
        start = time.perf_counter()
        load_batch(conn, batch)
        elapsed = time.perf_counter() - start
        conn.execute("drop table raw.bench_loader")
        conn.execute("delete from meta.load_run where source = 'bench_loader'")
    return elapsed


def bench_to_sql(dsn: str, rows: list[tuple]) -> float:
    import pandas as pd
    import sqlalchemy

    frame = pd.DataFrame([r[2:] for r in rows], columns=list(COLUMNS))
    url = dsn.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("create schema if not exists bench; drop table if exists bench.to_sql")
    start = time.perf_counter()
    frame.to_sql("to_sql", engine, schema="bench", index=False)  # pandas' default method
    elapsed = time.perf_counter() - start
    with engine.begin() as conn:
        conn.exec_driver_sql("drop table bench.to_sql")
    engine.dispose()
    return elapsed


def bench_bare_copy(dsn: str, rows: list[tuple]) -> float:
    """The floor: the same rows as the loader stores them (values and lineage columns) joined
    into COPY text with no escaping and no bookkeeping, and one COPY into a table of the same
    shape."""
    lineage = "_load_id bigint, _period text, _file text, _row_number integer, _published_on date"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("create schema if not exists bench; drop table if exists bench.bare")
        conn.execute("create table bench.bare (" + ", ".join(f"{c} text" for c in COLUMNS) + f", {lineage})")
        start = time.perf_counter()
        data = "".join(["\t".join(r[2:]) + f"\t1\tbench\t{r[0]}\t{r[1]}\t\\N\n" for r in rows])
        with conn.cursor() as cur, cur.copy("copy bench.bare from stdin") as cp:
            cp.write(data)
        elapsed = time.perf_counter() - start
        conn.execute("drop table bench.bare")
    return elapsed


def run(dsn: str, n: int = 100_000, repeats: int = 3) -> dict[str, float]:
    rows = make_rows(n)
    best = {name: min(fn(dsn, rows) for _ in range(repeats))
            for name, fn in (("loader", bench_loader), ("bare_copy", bench_bare_copy))}
    best["to_sql"] = bench_to_sql(dsn, rows[: n // 5]) * 5  # pandas is slow: time a fifth, scale
    return {
        "rows": n,
        "loader_rows_per_s": n / best["loader"],
        "to_sql_rows_per_s": n / best["to_sql"],
        "bare_copy_rows_per_s": n / best["bare_copy"],
        "loader_vs_to_sql": best["to_sql"] / best["loader"],
        "loader_vs_copy": best["loader"] / best["bare_copy"],
    }
