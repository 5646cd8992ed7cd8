"""Names shared by several layers, kept free of heavy imports (the config layer reads them
without importing torch)."""

from __future__ import annotations

__all__ = ["EXACT_SOLVERS", "SOLVER_NAMES", "STOP_RULES", "TIE_RULES"]

#: names of the default exact solver: "admm" (historical) and "hpr" (its algorithm,
#: Halpern-anchored Peaceman-Rachford; docs/solver.md)
EXACT_SOLVERS: tuple[str, ...] = ("admm", "hpr")
#: every name ``extract_and_or(solver=...)`` and ``interactions.solver`` accept
SOLVER_NAMES: tuple[str, ...] = (*EXACT_SOLVERS, "sgd-reference", "highs")
#: the early-stopping rules of ``analysis.early_stopping`` (:func:`genphase.analysis.stop_rule`)
STOP_RULES: tuple[str, ...] = ("phase3_start", "min_test_loss", "h_bar_peak")
#: which optimum among ties ``interactions.ties`` names (docs/science.md, section 6)
TIE_RULES: tuple[str, ...] = ("cold-start", "least-norm")
