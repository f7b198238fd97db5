"""Understanding shoppers in their own words: normalisation, entities and intents learnt from examples.

Pure functions and immutable objects over text: no Redis, no database, nothing from `bot`. The engine asks
`Understander.understand(text)` once a message has found no keyword rule, and gets the normalised text, the
likeliest intents with their confidence, and the entities named.
"""

from dialogs.understanding.classifier import Classifier, Prediction, Thresholds
from dialogs.understanding.corpus import CorpusError, Example, load_examples, shipped_examples
from dialogs.understanding.entities import Capacity, Entities, PriceRange, Quantity, extract
from dialogs.understanding.labels import LABELS, clarifying_question
from dialogs.understanding.normalise import normalise, pinyin, pinyin_initials
from dialogs.understanding.numerals import parse_chinese_number
from dialogs.understanding.understand import Understander, Understanding

__all__ = [
    "LABELS",
    "Capacity",
    "Classifier",
    "CorpusError",
    "Entities",
    "Example",
    "Prediction",
    "PriceRange",
    "Quantity",
    "Thresholds",
    "Understander",
    "Understanding",
    "clarifying_question",
    "extract",
    "load_examples",
    "normalise",
    "parse_chinese_number",
    "pinyin",
    "pinyin_initials",
    "shipped_examples",
]
