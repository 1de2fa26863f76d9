"""The mutation harness (tests/mutation/run.py): a mutant whose text no longer applies fails it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def harness():
    spec = importlib.util.spec_from_file_location("mutation_run", REPO / "tests" / "mutation" / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def test_every_declared_mutant_still_applies(harness):
    """Each mutant's text occurs exactly once in its file: one that moved on tests nothing."""
    stale = harness.inapplicable(harness.load())
    assert not stale, "\n".join(f"{m.id}: {reason}" for m, reason in stale)


def _mutant(harness, **kw):
    base = {"id": "m", "area": "a", "file": "code.py", "find": "x < 1", "replace": "x <= 1", "tests": ["tests"]}
    return harness.Mutant(**{**base, **kw})


def test_a_mutant_whose_text_is_gone_twice_or_whose_file_is_gone_does_not_apply(harness, tmp_path):
    (tmp_path / "code.py").write_text("if x < 1:\n    y = x < 1\nz = 2\n", encoding="utf-8")
    mutants = [_mutant(harness, id="twice"), _mutant(harness, id="gone", find="x > 1"),
               _mutant(harness, id="once", find="z = 2"), _mutant(harness, id="nofile", file="other.py")]
    stale = {m.id: reason for m, reason in harness.inapplicable(mutants, tmp_path)}
    assert stale.keys() == {"twice", "gone", "nofile"}
    assert "found 2 times" in stale["twice"] and "found 0 times" in stale["gone"]
    assert "does not exist" in stale["nofile"]


def test_list_and_run_exit_1_on_a_mutant_that_no_longer_applies(harness, tmp_path, monkeypatch, capsys):
    toml = tmp_path / "mutants.toml"
    toml.write_text('[[mutant]]\nid = "gone"\narea = "a"\nfile = "README.md"\nfind = "no such text 5b1e"\n'
                    'replace = "x"\ntests = ["tests/unit"]\n', encoding="utf-8")
    monkeypatch.setattr(harness, "MUTANTS", toml)
    copied = []
    monkeypatch.setattr(harness, "copy_tree", lambda: copied.append(1) or tmp_path)
    assert harness.main(["--list"]) == 1
    assert harness.main([]) == 1
    assert not copied, "the run started although a mutant does not apply"
    assert "gone: text to mutate found 0 times in README.md" in capsys.readouterr().err
