"""No password, token or key in the repository, except the documented placeholders of `.env.example`."""

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

SECRET_NAME = r"(password|passwd|pwd|secret|token|api[_-]?key|private[_-]?key|fernet[_-]?key|credential)"
# name = value / name: value (also "name": value in JSON and Python dicts)
ASSIGNMENT = re.compile(SECRET_NAME + r"[A-Za-z_]*[\"']?\s*[:=]\s*(?P<value>.*)$", re.IGNORECASE)
URL_WITH_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:(?P<value>[^/\s@'\"]+)@", re.IGNORECASE)
KNOWN_FORMATS = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}|xox[abp]-[A-Za-z0-9-]{10,}"
)

# The allow-list, explicitly: documented local-development placeholders (file -> values).
PLACEHOLDERS = {
    ".env.example": {
        "", "change-me-airflow-db", "change-me-redis", "change-me-fernet-key", "change-me-jwt-secret",
        "change-me-api-secret", "change-me-admin", "change-me-warehouse", "change-me-analyst", "change-me-objectstore",
    },
    "README.md": {"password"},  # the shape of a URL: postgresql://user:password@host:5432/dbname
}
# Values that name where a secret comes from instead of holding one.
REFERENCE = re.compile(
    r"""^(\$\{[A-Z0-9_]+(:[-?][^}]*)?\}|"?\{\{\s*env_var\(|\$\$\{?[A-Z_]+|$)"""
)


def _tracked_lines():
    try:
        out = subprocess.run(["git", "grep", "-n", "-I", "--untracked", "-e", "."], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout
    except (FileNotFoundError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: nothing to grep")
    for line in out.splitlines():
        path, number, text = line.split(":", 2)
        yield path, int(number), text


def _value(raw: str) -> str:
    return raw.strip().rstrip(",;").strip().strip("'\"").strip()


def flag(path: str, text: str) -> list[str]:
    """Why this line of this file looks like it holds a secret (empty when it does not)."""
    found = []
    allowed = PLACEHOLDERS.get(path, set())
    text = re.sub(r"\$\{[^}]*\}", "${REF}", text)  # compose references name a variable, hold nothing
    if KNOWN_FORMATS.search(text):
        found.append("a key in a known format")
    for m in URL_WITH_PASSWORD.finditer(text):
        value = m["value"]
        if value not in allowed and not value.startswith("${") and not value.startswith("{"):
            found.append(f"a URL with a password: {text.strip()}")
    m = ASSIGNMENT.search(text)
    if m and not text.lstrip().startswith("#"):
        raw = m["value"].strip()
        value = _value(raw)
        literal = raw[:1] in "'\"" and not raw.startswith('"{{')
        if path.endswith(".py") and not re.match(r"""^(['"])[^\s'"()]{4,}\1""", raw):
            return found  # code: an expression (environment, a parameter), not a stored string
        if not (value in allowed or (not literal and REFERENCE.match(raw)) or value.startswith("${")):
            found.append(text.strip())
    return found


def findings():
    return [f"{path}:{number}: {why}" for path, number, text in _tracked_lines()
            if path != "tests/unit/test_no_secrets.py" for why in flag(path, text)]


@pytest.mark.parametrize("path,line", [
    ("app.py", 'db_password = "hunter2xyz"'),
    ("conf.yml", "API_TOKEN: abc123def"),
    ("conf.yml", "url: postgres://user:s3cret@host/db"),
    (".env.example", "WAREHOUSE_PASSWORD=real-looking-value"),
    ("notes.md", "-----BEGIN RSA PRIVATE KEY-----"),
    ("dag.py", '{"secret_key": "abcdef123456"}'),
])
def test_planted_secrets_are_found(path, line):
    assert flag(path, line)


@pytest.mark.parametrize("path,line", [
    (".env.example", "WAREHOUSE_PASSWORD=change-me-warehouse"),
    ("docker-compose.yml", "POSTGRES_PASSWORD: ${WAREHOUSE_PASSWORD:?set WAREHOUSE_PASSWORD in .env}"),
    ("dbt_project/profiles.yml", "password: \"{{ env_var('SINFONIA_DBT_PASSWORD', '') }}\""),
    ("include/sinfonia/dbt.py", '"SINFONIA_DBT_PASSWORD": str(info.get("password") or ""),'),
])
def test_references_and_placeholders_pass(path, line):
    assert flag(path, line) == []


def test_git_grep_finds_no_secrets():
    assert findings() == []


def test_env_file_is_ignored_and_example_holds_only_placeholders():
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=REPO)
    assert ignored.returncode == 0, ".env must be git-ignored"
    for line in (REPO / ".env.example").read_text().splitlines():
        if re.match(SECRET_NAME, line.split("=")[0].split("_")[-1], re.IGNORECASE) or "PASSWORD" in line:
            assert line.split("=", 1)[1] in PLACEHOLDERS[".env.example"], line
