"""The default workload: the g2p model on texts of ``size`` CMUdict words."""

from __future__ import annotations

from .base import Built, Workload

# The initial step is the original experiment's: eager, one word at a time, in input order.
INITIAL_OPTIONS = {"mode": "eager", "batch_size": 1, "bucket": False}


class G2pWorkload(Workload):
    spec = "g2p"
    unit = "words"

    def build(self, options: dict) -> Built:
        import g2p

        chosen = {**INITIAL_OPTIONS, **{k: v for k, v in options.items() if v is not None}}
        model = g2p.Model(**chosen)
        return Built(predict=model.predict, make_input=g2p.sample_words)
