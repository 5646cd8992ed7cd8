"""Analysis layer: generalization power, H-bar, order-wise strengths, removal loss, order
distribution, Jaccard similarity and phase detection over extracted interactions."""

from .generalization import (
    check_compatible,
    effects,
    generalization_power,
    h_bar,
    h_bar_ablation,
    order_strengths,
    removal,
    salient,
)
from .order_distribution import order_distribution, order_jaccard, weighted_jaccard
from .phases import PhaseReport, detect_phases, smooth
from .tables import analyze_checkpoint, long_form

__all__ = [
    "check_compatible", "effects", "generalization_power", "h_bar", "h_bar_ablation", "order_strengths",
    "removal", "salient", "order_distribution", "order_jaccard", "weighted_jaccard", "PhaseReport",
    "detect_phases", "smooth", "analyze_checkpoint", "long_form",
]
