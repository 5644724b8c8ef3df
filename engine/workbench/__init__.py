"""The analyst's workbench: diff between years, rule tests, new-year, show, plots."""
