"""``sinfonia run`` freezes what the process holds before each DAG: the garbage collector's full
passes (Cosmos runs one after every dbt command) then walk only what the DAG run itself made."""

from __future__ import annotations

import gc


def test_each_dag_runs_with_what_came_before_it_frozen(offline_run_dags):
    seen = []

    class Run:
        state = "DagRunState.success"
        run_id = "probe"

    class Dag:
        tasks = []

        def __init__(self, name):
            self.name = name

        def test(self, run_conf):
            made_before = gc.get_freeze_count()
            self.kept = [[i] for i in range(1000)]  # objects this DAG run makes and leaves alive
            seen.append((self.name, made_before, gc.get_freeze_count()))
            return Run()

    gc.unfreeze()
    try:
        timings = offline_run_dags({"a": Dag("a"), "b": Dag("b")}, ("a", "b"))
    finally:
        gc.unfreeze()
    assert set(timings) == {"a", "b"}
    (_, a_frozen, a_after), (_, b_frozen, _) = seen
    assert a_frozen > 10_000  # the interpreter, pytest and the modules loaded: everything before the run
    assert a_after == a_frozen  # what the DAG makes is not frozen while it runs
    assert b_frozen >= a_frozen + 1000  # before the next DAG, what the first left alive is frozen too
