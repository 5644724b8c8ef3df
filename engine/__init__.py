"""Scoring engine: loads a year of rules and scores MIPS submissions."""
