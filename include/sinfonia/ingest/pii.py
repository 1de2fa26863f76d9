"""Personal data (Ley 1581 de 2012): keyed pseudonyms for document numbers.

A document number becomes ``HMAC-SHA256(key, normalised number)`` (hex). The key comes from the
environment variable ``SINFONIA_PII_KEY`` (in production, from the secrets store behind the
Airflow deployment); it is never in the repository. The same key gives the same pseudonym, so a
person can be followed across exports and years without their number being stored; without the
key the pseudonym cannot be linked back to a number by trying candidate numbers.

``DEMO_KEY`` is a documented, local-only key: ``sinfonia demo`` and the tests set it when the
variable is absent, because their data are synthetic. It protects nothing and must never be
used with real exports.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re

KEY_ENV = "SINFONIA_PII_KEY"
DEMO_KEY = "sinfonia-demo-local-only-not-a-secret"
MIN_KEY_LENGTH = 16
# A key that is mostly one character (16 spaces, 'aaaa…', 'abab…') is guessable whatever its
# length: at least this many different characters, whitespace not counted.
MIN_KEY_DISTINCT = 6


class MissingKeyError(RuntimeError):
    """No pseudonymisation key in the environment."""


def key() -> bytes:
    value = os.environ.get(KEY_ENV, "")
    if not value:
        raise MissingKeyError(
            f"{KEY_ENV} is not set: the ESAP equipos export holds personal data (Ley 1581 de 2012) "
            "and its document numbers are replaced by keyed hashes on landing; set "
            f"{KEY_ENV} to a secret of at least {MIN_KEY_LENGTH} characters (never commit it)"
        )
    if len(value.strip()) < MIN_KEY_LENGTH:
        raise MissingKeyError(f"{KEY_ENV} is too short: use at least {MIN_KEY_LENGTH} characters "
                              "(whitespace around it not counted)")
    if len(set(value) - set(" \t\r\n")) < MIN_KEY_DISTINCT:
        raise MissingKeyError(f"{KEY_ENV} is too weak: it repeats a few characters; use a random secret "
                              f"with at least {MIN_KEY_DISTINCT} different characters")
    return value.encode("utf-8")


def normalise_document(value: str | None) -> str:
    """'1.023.456.789' and ' 1023456789 ' are the same document; passports keep their letters."""
    return re.sub(r"[\s.,\-']", "", value or "").upper()


def pseudonym(document: str | None, secret: bytes | None = None) -> str | None:
    """The keyed hash of a document number (None when the number is empty)."""
    doc = normalise_document(document)
    if not doc:
        return None
    return hmac.new(secret or key(), doc.encode("utf-8"), hashlib.sha256).hexdigest()


def key_mark(secret: bytes | None = None) -> str:
    """A short public mark of the key (neither the key nor a pseudonym): files pseudonymised with
    the same key carry the same mark, so a changed key can be told from the landed files' names."""
    return hmac.new(secret or key(), b"sinfonia: which key", hashlib.sha256).hexdigest()[:8]
