"""Great Expectations' import leaves scipy.stats and altair until something uses them
(``sinfonia.gates.DEFERRED_IMPORTS``), and whoever does gets the real modules."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _fresh(code: str) -> list[str]:
    """Run ``code`` in a fresh interpreter; its printed lines."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.splitlines()


def test_great_expectations_imports_without_scipy_stats_and_altair_and_they_work_when_asked():
    lines = _fresh("""
        import sys
        from sinfonia import gates
        gates._defer_imports()
        import great_expectations
        from great_expectations.core import ExpectationSuite
        print(sorted(m for m in ("scipy.stats._stats_py", "altair.vegalite") if m in sys.modules))
        # the one expectation that uses them, through the names it imported
        from great_expectations.expectations.core import expect_column_kl_divergence_to_be_less_than as kl
        print(round(float(kl.stats.entropy([0.5, 0.5], [0.9, 0.1])), 6), kl.alt.Chart.__name__)
        from scipy import stats  # the impact estimates' quantiles, after the gate in one process
        print(round(float(stats.t.ppf(0.975, 10)), 6), sys.modules["scipy.stats"] is stats,
              type(stats).__name__, sys.modules["scipy"].stats is stats)
    """)
    assert lines == ["[]", "0.510826 Chart", "2.228139 True module True"]


def test_two_threads_asking_a_deferred_module_at_once_both_get_the_real_one():
    lines = _fresh("""
        import sys, threading
        from sinfonia import gates
        assert "fractions" not in sys.modules
        gates._defer_imports(("fractions",))
        import fractions
        proxy = fractions
        start, got = threading.Barrier(8), []
        def ask():
            start.wait()
            got.append(proxy.Fraction(1, 3) + proxy.Fraction(1, 6))
        threads = [threading.Thread(target=ask) for _ in range(8)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        print(got == [fractions.Fraction(1, 2)] * 8, type(sys.modules["fractions"]).__name__)
    """)
    assert lines == ["True module"]


def test_a_module_already_imported_is_left_as_it_is():
    lines = _fresh("""
        import sys
        import scipy.stats
        real = sys.modules["scipy.stats"]
        from sinfonia import gates
        gates._defer_imports()
        print(sys.modules["scipy.stats"] is real)
    """)
    assert lines == ["True"]


def test_the_gates_import_of_great_expectations_logs_no_line_per_function_and_keeps_its_warnings():
    lines = _fresh("""
        import logging, sys
        logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(name)s %(message)s")
        from sinfonia import gates
        gates._great_expectations()
        logging.getLogger("great_expectations._docs_decorators").warning("still said")
        print("scipy.stats" in sys.modules and type(sys.modules["scipy.stats"]).__name__)
    """)
    assert not [line for line in lines if "Skipping registering" in line], lines[:3]
    assert lines[-2:] == ["great_expectations._docs_decorators still said", "_Deferred"]
