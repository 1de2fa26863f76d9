"""The report for people (Spanish): HTML sections with charts."""
