"""The one graph walk of the front end: an iterative, memoised post-order fold over
SymPy expression DAGs.

SymPy expressions built from arrays share sub-expressions heavily and nest deeply (a sum
of a thousand terms, a chain rule a hundred levels down), so every pass over them
(differentiation, dtype inference, symbol masks, canonicalisation) walks the DAG
iteratively, visiting each distinct node once. Nodes are keyed by identity: hashing a
SymPy node recurses into its arguments, which overflows the stack on deep expressions
and is slow for floats.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["fold"]


def fold(
    roots: Iterable,
    children: Callable[[Any], tuple],
    combine: Callable[[Any, list], Any],
    memo: dict | None = None,
) -> list:
    """Fold ``combine`` over the DAG below ``roots``, children before parents.

    Args:
        roots: The expressions to fold.
        children: ``children(node)``: the sub-expressions ``node``'s value depends on
            (``()`` for a leaf).
        combine: ``combine(node, values)``: the value of ``node`` from the values of its
            ``children``, in order.
        memo: ``id(node) -> (node, value)``, shared between calls to reuse values (the
            node is kept so that its ``id`` stays unique while the memo lives).

    Returns:
        The value of each root, in order.
    """
    memo = {} if memo is None else memo
    results = []
    for root in roots:
        stack = [root]
        while stack:
            node = stack[-1]
            if id(node) in memo:
                stack.pop()
                continue
            kids = children(node)
            pending = [c for c in kids if id(c) not in memo]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            memo[id(node)] = (node, combine(node, [memo[id(c)][1] for c in kids]))
        results.append(memo[id(root)][1])
    return results
