"""g2p_en's per-word NumPy decoder as shipped: its own `G2p.predict`, one word at a time."""

from __future__ import annotations

from g2p.reference import shipped_g2p_en

from . import Predictor


def load(batch_size: int) -> Predictor:
    """`batch_size` is ignored: g2p_en decodes one word per call."""
    model = shipped_g2p_en()
    return lambda words: [model.predict(word) for word in words]
