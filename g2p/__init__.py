"""g2p_en's English grapheme-to-phoneme model in TensorFlow, the model under study.

    >>> import g2p
    >>> g2p.predict("aardvark")
    [['AA1', 'R', 'D', 'V', 'AA2', 'R', 'K']]
    >>> g2p.g2p("I have $250.")[:3]
    ['AY1', ' ', 'HH']

Importing this package imports no TensorFlow: it is loaded when a model first runs.
"""

from ._model import DEFAULT_MODE, Model, predict
from ._modes import MODES
from ._sample import sample_words
from ._text import G2p, g2p

__all__ = ["DEFAULT_MODE", "MODES", "G2p", "Model", "g2p", "predict", "sample_words"]
