"""The report for people (Spanish): HTML with charts. Placeholder; the report page replaces it."""
