"""Whole populations: synthetic submissions and batch scoring (local processes or Dask)."""
