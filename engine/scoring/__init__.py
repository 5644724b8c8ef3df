"""Scoring one submission with a loaded year, and the report in every format: JSON, table, Markdown, HTML, explanations, attribution."""
