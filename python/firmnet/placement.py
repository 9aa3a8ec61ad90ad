"""More ways to place buffers, for planner.py's "best": placement orders and a bounded search.

First fit (planner._first_fit) puts each buffer at the lowest free offset, in some order;
which order reaches the live-set bound depends on the graph. Largest first (TFLM) fails on
DAGs whose branches leave holes the next large tensor does not fit: an inception block
after scheduling needs 42,624 B against a bound of 38,528 B. So the planner tries several
orders and keeps the smallest arena:

* ``by_first_step`` - schedule order (the classic interval-colouring order);
* ``by_last_use``   - the buffers that live longest into the future first;
* ``by_lifetime``   - the longest lifetimes first (they block most other buffers);
* ``by_area``       - the largest size x steps first.

If none reaches the bound, ``search`` looks for a placement inside it: a depth-first
search that places the buffers largest first, each at one of its candidate offsets (0 or
the end of a buffer already placed that lives at the same time, the "canonical" offsets
every compact placement can be moved to), within a budget of ``SEARCH_NODES`` offset
look-ups (one per unplaced buffer per move; a few seconds at most).
It returns None when it finds none in the budget; the live-set bound is only a lower
bound, and some lifetimes cannot be packed into it at all.

Everything here sees only the buffers' names, sizes and lifetimes (planner.Buffer), so a
planner that changes what may overlap keeps these as they are: the orders feed its own
first fit, and the search is one more candidate that check_plan proves like the others.
"""
from __future__ import annotations

from typing import Callable, Sequence

__all__ = ["ORDERS", "SEARCH_NODES", "search"]

SEARCH_NODES = 100_000


def _align(n: int, alignment: int) -> int:
    return -(-n // alignment) * alignment


def _live(b) -> int:
    return b.last - b.first + 1


# name → the order in which first fit places the buffers (ties: size desc, first, name)
ORDERS: dict[str, Callable[[Sequence], list]] = {
    "by_first_step": lambda bs: sorted(bs, key=lambda b: (b.first, -b.size, b.name)),
    "by_last_use": lambda bs: sorted(bs, key=lambda b: (-b.last, -b.size, b.name)),
    "by_lifetime": lambda bs: sorted(bs, key=lambda b: (-_live(b), -b.size, b.name)),
    "by_area": lambda bs: sorted(bs, key=lambda b: (-b.size * _live(b), b.first, b.name)),
}


def search(buffers: Sequence, alignment: int, target: int, max_nodes: int = SEARCH_NODES) -> dict | None:
    """Offsets that keep every buffer below `target` bytes (aligned sizes), or None.

    Builds the placement bottom up: each move puts some unplaced buffer at an offset no
    lower than the previous move's, either 0 or the end of a buffer placed before that
    lives at the same time. Any placement can be pushed down until every buffer rests on
    0 or on such a buffer; listed by offset (then index), it is one of these move
    sequences, so the search is complete when the budget does not run out."""
    bs = sorted(buffers, key=lambda b: (-_align(b.size, alignment), b.first, b.name))
    size = [_align(b.size, alignment) for b in bs]
    n = len(bs)
    if any(s > target for s in size):
        return None
    conflicts = [[j for j in range(n) if j != i and bs[j].first <= bs[i].last and bs[i].first <= bs[j].last]
                 for i in range(n)]
    offset: list = [None] * n
    budget = [max_nodes]

    def spot(i: int, floor: int, last: int):
        """The lowest offset >= floor where buffer i can rest, or None."""
        placed = [(offset[j], offset[j] + size[j]) for j in conflicts[i] if offset[j] is not None]
        for at in sorted({0, *(hi for _, hi in placed)}):
            if at < floor or (at == floor and last is not None and i < last and offset[last] == at):
                continue
            if at + size[i] > target:
                return None
            if not any(lo < at + size[i] and at < hi for lo, hi in placed):
                return at
        return None

    def place(done: int, floor: int, last) -> bool:
        if done == n:
            return True
        moves = []
        budget[0] -= n - done
        if budget[0] < 0:
            return False
        for i in range(n):
            if offset[i] is None:
                at = spot(i, floor, last)
                if at is None:
                    return False    # buffer i fits nowhere any more
                moves.append((at, -size[i], i))
        for at, _, i in sorted(moves):
            offset[i] = at
            if place(done + 1, at, i):
                return True
            offset[i] = None
        return False

    if not place(0, 0, None):
        return None
    return {b.name: offset[i] for i, b in enumerate(bs)}
