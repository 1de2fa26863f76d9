"""The prioritisation year's accepted range pinned at both ends (fast: no warehouse).

A year inside the range goes on to the warehouse (here a port nothing listens on, so the
connection error shows the range check let it through); one year beyond either end is refused
first, naming the range.
"""

from __future__ import annotations

import psycopg
import pytest

from sinfonia import prioritisation
from sinfonia.prioritisation import PrioritisationError, plan

NOWHERE = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1"


def test_the_accepted_years_are_2000_to_2100():
    assert prioritisation.YEARS == (2000, 2100)


@pytest.mark.parametrize("year", [1999, 2101])
def test_a_year_just_outside_the_range_is_refused_before_connecting(year):
    with pytest.raises(PrioritisationError, match=rf"prioritisation year {year} is out of range \(2000–2100\)"):
        plan(NOWHERE, year)


@pytest.mark.parametrize("year", [2000, 2100])
def test_a_year_at_either_end_of_the_range_is_accepted(year):
    with pytest.raises(psycopg.OperationalError):
        plan(NOWHERE, year)
