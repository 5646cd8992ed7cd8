"""Graded evidence: the model's salient strength by how many of the K baselines share each interaction.

For a salient interaction ``T`` of type ``t`` of the model on a sample, ``n_agree`` is the number of
baselines in which the same interaction (same type) is salient with the same sign (Eq. 7 counted over
the K baselines, :meth:`~genphase.analysis.GeneralizationPower.n_agree`; with cross-fitting, over the
sample's eligible baselines only). The ``evidence`` table holds, per split, type ("and", "or", "all"),
order and ``n_agree = 0..K``, the mean over the split's samples of

    strength(n_agree) = sum of |I[t, T]| over the model's salient T of that order with exactly n_agree agreeing baselines

(singletons merged into AND, as everywhere). Summed over ``n_agree = 0..K`` it is the total salient
strength ``|total+(m)| + |total-(m)|`` of Eq. 8; summed over ``n_agree >= 1`` it is the generalizable
strength ``|gen+(m)| + |gen-(m)|`` of Eq. 9 with the any-of-K G (Eq. 10); ``n_agree = K`` is an
all-of-K G. H-bar is one reading of this table; the others say how broadly the model's interactions
are shared.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..interactions import AndOrInteractions
from ._common import TYPES, order_onehot
from ._stats import split_groups
from .generalization import GeneralizationPower, generalization_power
from .order_distribution import checkpoint_items
from .tables import long_form

__all__ = ["EVIDENCE_COLUMNS", "evidence_strength", "graded_evidence", "evidence_series"]

#: Columns of the ``evidence`` table (``metrics/evidence.parquet``).
EVIDENCE_COLUMNS: tuple[str, ...] = ("checkpoint", "split", "type", "order", "n_agree", "strength")


def evidence_strength(power: GeneralizationPower) -> np.ndarray:
    """Per-sample strength by type, order and ``n_agree``: ``[*B, 3, n, K + 1]`` (types and, or, all).

    >>> import numpy as np, genphase as gp
    >>> m = gp.AndOrInteractions.from_effects(np.array([0, 2.0, -1.0, 0]), np.zeros(4), 0.0)
    >>> b = gp.AndOrInteractions.from_effects(np.array([0, 1.0, 0, 0]), np.zeros(4), 0.0)
    >>> evidence_strength(generalization_power(m, [b, b]))[2, 0].tolist()  # "all", order 1, n_agree 0..2
    [1.0, 0.0, 2.0]
    """
    agree = power.n_agree()  # [*B, 2, S]; raises for K = 1
    K = power.K
    a = np.where(power.model.mask, np.abs(power.model.effects), 0.0)  # salient |I|, [*B, 2, S]
    onehot = agree[..., None] == np.arange(K + 1)  # [*B, 2, S, K+1]
    per = np.einsum("...ts,...tsa,sm->...tma", a, onehot, order_onehot(power.n), optimize=True)  # [*B, 2, n, K+1]
    return np.concatenate([per, per.sum(axis=-3, keepdims=True)], axis=-3)


def _table(power: GeneralizationPower, split: Any, checkpoint: int | None) -> pd.DataFrame:
    st = evidence_strength(power)
    nb = int(np.prod(power.batch_shape)) if power.batch_shape else 1
    st = st.reshape(nb, *st.shape[-3:])
    frames = []
    for name, sel in split_groups(split, nb):
        fr = long_form(st[sel].mean(0), [("type", TYPES), ("order", np.arange(1, power.n + 1)),
                                         ("n_agree", np.arange(power.K + 1))], value_name="strength",
                       constants={"split": name})
        frames.append(fr)
    out = pd.concat(frames, ignore_index=True)
    cols = [c for c in EVIDENCE_COLUMNS if c != "checkpoint"]
    out = out[cols]
    if checkpoint is not None:
        out.insert(0, "checkpoint", checkpoint)
    return out


def graded_evidence(
    model: AndOrInteractions | GeneralizationPower,
    baselines: Sequence[AndOrInteractions] | AndOrInteractions | None = None,
    *,
    split: Any = None,
    checkpoint: int | None = None,
    tau: float = 0.05,
    absolute: float | None = None,
    merge_singletons: bool = True,
    eligible: Any = None,
) -> pd.DataFrame:
    """The ``evidence`` table of one checkpoint: ``[checkpoint,] split, type, order, n_agree, strength``.

    ``model``: the model's interactions (with K >= 2 ``baselines`` on the same samples), or a
    :class:`~genphase.analysis.GeneralizationPower` already computed (then ``baselines`` and the
    salience arguments are not used). ``split``: per-sample labels (None: one group "all");
    ``strength`` is the mean over the split's samples. K = 1 raises
    :class:`~genphase.errors.InputError` (the count would be G itself).

    >>> import numpy as np, genphase as gp
    >>> m = gp.AndOrInteractions.from_effects(np.array([0, 2.0, -1.0, 0]), np.zeros(4), 0.0)
    >>> b = gp.AndOrInteractions.from_effects(np.array([0, 1.0, 0, 0]), np.zeros(4), 0.0)
    >>> t = graded_evidence(m, [b, b], checkpoint=3)
    >>> t[(t.type == "all") & (t.order == 1)]["strength"].tolist()  # n_agree 0, 1, 2
    [1.0, 0.0, 2.0]
    """
    if isinstance(model, GeneralizationPower):
        power = model
    else:
        power = generalization_power(model, baselines if baselines is not None else [], tau=tau, absolute=absolute,
                                     merge_singletons=merge_singletons, eligible=eligible)
    return _table(power, split, checkpoint)


def evidence_series(
    checkpoints: Mapping[int, AndOrInteractions] | Sequence[tuple[int, AndOrInteractions]],
    baselines: Sequence[AndOrInteractions] | AndOrInteractions,
    *,
    split: Any = None,
    tau: float = 0.05,
    absolute: float | None = None,
    merge_singletons: bool = True,
    eligible: Any = None,
) -> pd.DataFrame:
    """:func:`graded_evidence` at every checkpoint (``{epoch: res}`` or ``[(epoch, res), ...]``),
    concatenated: the ``evidence`` table (:data:`EVIDENCE_COLUMNS`).

    >>> import numpy as np, genphase as gp
    >>> m = gp.AndOrInteractions.from_effects(np.array([0, 2.0, -1.0, 0]), np.zeros(4), 0.0)
    >>> b = gp.AndOrInteractions.from_effects(np.array([0, 1.0, 0, 0]), np.zeros(4), 0.0)
    >>> evidence_series({0: m, 5: m}, [b, b]).groupby("checkpoint")["strength"].sum().tolist()
    [6.0, 6.0]
    """
    frames = [graded_evidence(res, baselines, split=split, checkpoint=e, tau=tau, absolute=absolute,
                              merge_singletons=merge_singletons, eligible=eligible)
              for e, res in checkpoint_items(checkpoints)]
    return pd.concat(frames, ignore_index=True)[list(EVIDENCE_COLUMNS)]
