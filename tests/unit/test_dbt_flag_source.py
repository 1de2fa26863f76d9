"""dbt's behaviour flags name the module that declared them; ``sinfonia.dbt`` finds that name from
the frames' globals instead of ``inspect.stack()`` (1-2 s of a pipeline process's first build)."""

from __future__ import annotations

import inspect

import pytest

behavior_flags = pytest.importorskip("dbt_common.behavior_flags")


@pytest.fixture
def dbts_own():
    """dbt's own ``_default_source``, put back after the test (and ``sinfonia.dbt`` free to install
    its own again: it does so once per process)."""
    from sinfonia import dbt

    installed = behavior_flags.BehaviorFlagRendered.__dict__["_default_source"].__func__
    original = inspect.unwrap(installed)  # dbt's, even after an earlier dbt command in this process
    behavior_flags.BehaviorFlagRendered._default_source = staticmethod(original)
    dbt._name_flags_by_frame.cache_clear()
    yield original
    behavior_flags.BehaviorFlagRendered._default_source = staticmethod(installed)
    dbt._name_flags_by_frame.cache_clear()


def _declared_here():
    return behavior_flags.BehaviorFlagRendered(
        {"name": "sinfonia_probe", "default": False, "description": "a flag declared in this module"}, {})


def test_a_flag_gets_the_same_source_either_way(dbts_own):
    from sinfonia import dbt

    theirs = _declared_here()._behavior_change_event.flag_source
    from_theirs = dbts_own()
    dbt._name_flags_by_frame()
    ours = _declared_here()._behavior_change_event.flag_source
    assert behavior_flags.BehaviorFlagRendered._default_source() == from_theirs == __name__
    assert ours == theirs == __name__


def test_a_frame_with_no_module_name_is_passed_over(dbts_own):
    from sinfonia import dbt

    dbt._name_flags_by_frame()
    namespace = {"flags": behavior_flags}  # code run with globals that name no module, as exec gives
    exec("def declare():\n    return flags.BehaviorFlagRendered._default_source()", namespace)
    assert namespace["declare"]() == __name__


def test_dbt_run_names_flags_by_frame(dbts_own):
    from sinfonia import dbt

    dbt.run(["--version"], check=False)
    assert "_name_flags_by_frame" in behavior_flags.BehaviorFlagRendered._default_source.__qualname__
