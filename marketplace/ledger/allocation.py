"""Splitting an amount among many, to the fen.

The largest-remainder method: everyone gets the floor of their exact share, and the fen left
over go one each to the largest remainders, ties to the lowest key (household id). The parts
always sum to the whole, and the result depends only on the inputs, never on their order.
"""

from collections.abc import Hashable, Iterable


def largest_remainder(total: int, weights: Iterable[tuple[Hashable, int]]) -> dict:
    """``total`` fen split in proportion to ``weights`` (``(key, weight)`` pairs, weights > 0).

    Returns ``{key: part}`` with ``sum(parts) == total``; a negative total splits the same way
    with every part negative.
    """
    pairs = sorted(weights, key=lambda pair: pair[0])
    if not pairs:
        raise ValueError("nothing to split among")
    if any(weight <= 0 for _, weight in pairs):
        raise ValueError("weights must be positive")
    if total < 0:
        return {key: -part for key, part in largest_remainder(-total, pairs).items()}
    weight_sum = sum(weight for _, weight in pairs)
    parts, remainders = {}, []
    for key, weight in pairs:
        whole, remainder = divmod(total * weight, weight_sum)
        parts[key] = whole
        remainders.append((-remainder, key))
    left = total - sum(parts.values())
    for _, key in sorted(remainders)[:left]:
        parts[key] += 1
    return parts


def basis_points(amount: int, bp: int) -> int:
    """``amount × bp / 10000``, rounded half up, in integers only."""
    return (amount * bp + 5000) // 10000
