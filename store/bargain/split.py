"""How a bargain's discount is shared among its helpers: `start - floor` fen split into `helpers` cuts of at least
1 fen each, drawn from the bargain's seed, so the same bargain always has the same cuts (tests fix the seed) and
the last helper lands exactly on the floor. Bigger cuts come first: the first friends make visible progress."""

from __future__ import annotations

import itertools
import random


def split_cuts(total_fen: int, helpers: int, seed: int) -> list[int]:
    """`helpers` positive amounts summing to `total_fen` (which must be at least `helpers`), largest first."""
    if helpers < 1 or total_fen < helpers:
        raise ValueError(f"cannot split {total_fen} fen into {helpers} cuts of at least 1 fen")
    marks = sorted(random.Random(seed).sample(range(1, total_fen), helpers - 1))
    edges = [0, *marks, total_fen]
    return sorted((b - a for a, b in itertools.pairwise(edges)), reverse=True)


def cut_amount(total_fen: int, helpers: int, seed: int, seq: int) -> int:
    """The amount of the `seq`-th cut (1-based)."""
    return split_cuts(total_fen, helpers, seed)[seq - 1]
