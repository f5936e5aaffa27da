"""g2p_en's vocabularies and trained weights, read from the installed `g2p-en` package.

The package is located with `importlib.util.find_spec`, never imported: importing g2p_en
tries to download NLTK data, which fails offline.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
from pathlib import Path

import numpy as np

GRAPHEMES = ("<pad>", "<unk>", "</s>", *"abcdefghijklmnopqrstuvwxyz")
PHONEMES = (
    "<pad>", "<unk>", "<s>", "</s>",
    "AA0", "AA1", "AA2", "AE0", "AE1", "AE2", "AH0", "AH1", "AH2", "AO0", "AO1", "AO2",
    "AW0", "AW1", "AW2", "AY0", "AY1", "AY2", "B", "CH", "D", "DH", "EH0", "EH1", "EH2",
    "ER0", "ER1", "ER2", "EY0", "EY1", "EY2", "F", "G", "HH", "IH0", "IH1", "IH2",
    "IY0", "IY1", "IY2", "JH", "K", "L", "M", "N", "NG", "OW0", "OW1", "OW2", "OY0",
    "OY1", "OY2", "P", "R", "S", "SH", "T", "TH", "UH0", "UH1", "UH2", "UW", "UW0",
    "UW1", "UW2", "V", "W", "Y", "Z", "ZH",
)  # fmt: skip
UNK, END_OF_WORD = GRAPHEMES.index("<unk>"), GRAPHEMES.index("</s>")
START, STOP = PHONEMES.index("<s>"), PHONEMES.index("</s>")
MAX_DECODE_STEPS = 20
HIDDEN = 256

CHECKPOINT_SHA256 = "b8af35e4596d8dd5836dfd3fe9b2ba4f97b9c311efe8879544cbcfcbd566d8c6"
WEIGHT_NAMES = (
    "enc_emb", "enc_w_ih", "enc_w_hh", "enc_b_ih", "enc_b_hh",
    "dec_emb", "dec_w_ih", "dec_w_hh", "dec_b_ih", "dec_b_hh", "fc_w", "fc_b",
)  # fmt: skip


def g2p_en_dir() -> Path:
    """The installed g2p_en package folder, found without importing it."""
    spec = importlib.util.find_spec("g2p_en")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the g2p-en package is not installed (pip install g2p-en)")
    return Path(next(iter(spec.submodule_search_locations)))


def checkpoint_path() -> Path:
    return g2p_en_dir() / "checkpoint20.npz"


@functools.cache
def load_weights() -> dict[str, np.ndarray]:
    """The twelve float32 arrays of checkpoint20.npz, after checking the file's SHA-256."""
    path = checkpoint_path()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != CHECKPOINT_SHA256:
        raise ValueError(f"{path} has SHA-256 {digest}, expected {CHECKPOINT_SHA256}")
    with np.load(path) as archive:
        weights = {name: archive[name] for name in WEIGHT_NAMES}
    for array in weights.values():
        array.setflags(write=False)
    return weights
