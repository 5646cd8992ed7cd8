"""Tests of genphase.analysis."""
