"""`make docs` builds the GX Data Docs from the committed suites into a folder outside the project."""

import json

from sinfonia import docs
from sinfonia.gates import suite_files


def test_data_docs_have_a_page_per_suite_and_touch_nothing_committed(tmp_path):
    before = sorted(p.name for p in (docs.config.EXPECTATIONS_DIR).rglob("*"))
    index, validated = docs.build_data_docs(None, tmp_path)
    assert index.exists() and validated == 0  # no warehouse given: suites only
    pages = {p.stem for p in (tmp_path / "data_docs" / "expectations").glob("*.html")}
    assert pages == {json.loads(p.read_text(encoding="utf-8"))["name"] for p in suite_files("")}
    assert sorted(p.name for p in (docs.config.EXPECTATIONS_DIR).rglob("*")) == before


def test_every_suite_marks_each_expectation_critical_or_warning():
    for path in suite_files(""):
        spec = json.loads(path.read_text(encoding="utf-8"))
        assert spec["meta"]["asset"], path.name
        bad = [e["type"] for e in spec["expectations"] if e.get("severity") not in ("critical", "warning")]
        assert not bad, f"{path.name}: expectations without a critical/warning severity: {bad}"
