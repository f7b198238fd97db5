"""Grouping the unanswered questions by similarity, so an operator answers "怎么开发票 / 发票怎么开 / 能开发票吗"
once instead of three times.

Similarity is the Dice coefficient of the normalised texts' character bigrams (a single character counts as its
own bigram): Chinese questions that say the same thing share most of their two-character words, whatever the
order or the particles around them ("发票怎么开" and "怎么开发票" share 发票, 怎么, 么开). Questions are taken most
frequent first; each joins the first group whose leading question it resembles, else starts its own. Quadratic
in the number of groups, which is fine for the inbox's few hundred open questions.
"""

from __future__ import annotations

from collections.abc import Sequence

SIMILAR = 0.5


def bigrams(norm: str) -> frozenset[str]:
    if len(norm) < 2:
        return frozenset({norm}) if norm else frozenset()
    return frozenset(norm[i : i + 2] for i in range(len(norm) - 1))


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))


def group(norms: Sequence[str], threshold: float = SIMILAR) -> list[list[int]]:
    """Indexes of `norms` (given most frequent first) in groups, each group in the given order, groups in the
    order of their leading question."""
    leaders: list[frozenset[str]] = []
    groups: list[list[int]] = []
    for index, norm in enumerate(norms):
        grams = bigrams(norm)
        for place, leader in enumerate(leaders):
            if similarity(grams, leader) >= threshold:
                groups[place].append(index)
                break
        else:
            leaders.append(grams)
            groups.append([index])
    return groups
