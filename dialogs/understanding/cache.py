"""The trained model every `serve` process keeps, retrained when operators teach it (like keyword rules reload).

`wxshop nlu teach` and the admin API store an example and bump its version; each process checks the version on
the same beat as the keyword rules and swaps in a model trained on the shipped corpus, the operators' examples
file and the taught examples. Training takes about 0.1 s and runs off the request path.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from dialogs.understanding.classifier import Thresholds
from dialogs.understanding.corpus import Example
from dialogs.understanding.understand import Understander, Understanding
from store.chat.nlu import examples, examples_version

log = logging.getLogger("wxshop.nlu")


class UnderstanderCache:
    def __init__(self, examples_file: str | Path | None = None, thresholds: Thresholds = Thresholds()) -> None:  # noqa: B008
        self.examples_file = examples_file or None
        self.thresholds = thresholds
        self._version = -1
        self._current = Understander.build(examples_file=self.examples_file, thresholds=thresholds)
        self._lock = threading.Lock()

    @property
    def current(self) -> Understander:
        return self._current

    def understand(self, text: str) -> Understanding:
        return self._current.understand(text)

    def refresh(self) -> bool:
        """Retrain when the taught examples changed; True when a new model was swapped in."""
        with self._lock:
            version = examples_version()
            if version == self._version or (version == 0 and self._version == -1):
                self._version = version  # nothing ever taught: the model built at start is the one
                return False
            taught = [Example(intent, text) for intent, text in examples()]
            self._current = Understander.build(taught, examples_file=self.examples_file, thresholds=self.thresholds)
            self._version = version
        log.info("understanding model trained", extra={"version": version, "taught": len(taught)})
        return True
