"""RFC 9162 Merkle tree hashing, proofs and their verification, with no I/O.

Leaves hash as ``SHA-256(0x00 || data)`` and interior nodes as ``SHA-256(0x01 || left ||
right)``; the tree over ``n`` leaves splits at the largest power of two below ``n``. The hub
stores every *complete* subtree (``level``, ``index``: the node over leaves
``[index << level, (index + 1) << level)``), so any proof is a handful of stored nodes plus
the few incomplete right-edge subtrees folded from them here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeId = tuple[int, int]  # (level, index)


def leaf_hash(data: bytes) -> bytes:
    """The hash of one leaf's bytes."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


@dataclass(slots=True)
class Frontier:
    """The right edge of a tree: one hash per complete subtree, largest first.

    It is all an append needs: the subtree sizes are the set bits of ``size``, so the
    frontier of a million-leaf tree is at most twenty hashes.
    """

    size: int
    hashes: list[bytes]

    @classmethod
    def empty(cls) -> Frontier:
        return cls(0, [])

    @classmethod
    def from_bytes(cls, size: int, packed: bytes) -> Frontier:
        """Rebuild from ``to_bytes``; the hash count must match the bits of ``size``."""
        hashes = [packed[i : i + HASH_SIZE] for i in range(0, len(packed), HASH_SIZE)]
        if len(hashes) != size.bit_count():
            raise ValueError(f"a frontier of size {size} has {size.bit_count()} hashes")
        return cls(size, hashes)

    def to_bytes(self) -> bytes:
        return b"".join(self.hashes)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf hash; returns every node it completes as (level, index, hash),
        the leaf itself first."""
        index = self.size
        created = [(0, index, leaf)]
        current = leaf
        level = 0
        # Each trailing one bit of the old size is a complete subtree the new leaf closes.
        while (index >> level) & 1:
            current = node_hash(self.hashes.pop(), current)
            level += 1
            created.append((level, index >> level, current))
        self.hashes.append(current)
        self.size += 1
        return created

    def root(self) -> bytes:
        """The tree head: the frontier folded from the right."""
        if not self.hashes:
            return EMPTY_ROOT
        current = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            current = node_hash(left, current)
        return current


def complete_subtrees(start: int, end: int) -> list[NodeId]:
    """The stored nodes that make up leaves ``[start, end)``, left to right.

    Every range RFC 9162 asks for starts at a multiple of a power of two at least as large
    as the range's biggest piece, so the pieces shrink left to right and folding them from
    the right gives that range's hash.
    """
    pieces: list[NodeId] = []
    while start < end:
        level = (start & -start).bit_length() - 1 if start else (end - start).bit_length() - 1
        while start + (1 << level) > end:
            level -= 1
        pieces.append((level, start >> level))
        start += 1 << level
    return pieces


def fold(hashes: Sequence[bytes]) -> bytes:
    """The hash of consecutive complete subtrees, given left to right."""
    current = hashes[-1]
    for left in reversed(hashes[:-1]):
        current = node_hash(left, current)
    return current


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (``n`` > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose hashes form the audit path of leaf ``index``, bottom first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    ranges: list[tuple[int, int]] = []
    offset, n, m = 0, size, index
    while n > 1:
        k = _split(n)
        if m < k:
            ranges.append((offset + k, offset + n))
            n = k
        else:
            ranges.append((offset, offset + k))
            offset, n, m = offset + k, n - k, m - k
    return list(reversed(ranges))


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose hashes prove ``old_size`` a prefix of ``new_size`` (RFC 9162
    2.1.4.1, SUBPROOF), in proof order."""
    if not 0 < old_size <= new_size:
        raise ValueError(f"no consistency proof from {old_size} to {new_size}")
    if old_size == new_size:
        return []
    ranges: list[tuple[int, int]] = []
    offset, m, n, whole = 0, old_size, new_size, True
    while m != n:
        k = _split(n)
        if m <= k:
            ranges.append((offset + k, offset + n))
            n = k
        else:
            ranges.append((offset, offset + k))
            offset, m, n, whole = offset + k, m - k, n - k, False
    if not whole:
        ranges.append((offset, offset + m))
    return list(reversed(ranges))


def needed_nodes(ranges: Iterable[tuple[int, int]]) -> set[NodeId]:
    """Every stored node the hashes of ``ranges`` are folded from."""
    return {node for start, end in ranges for node in complete_subtrees(start, end)}


def range_hashes(ranges: Sequence[tuple[int, int]], nodes: Mapping[NodeId, bytes]) -> list[bytes]:
    """The hash of each range, folded from stored ``nodes``."""
    return [fold([nodes[node] for node in complete_subtrees(s, e)]) for s, e in ranges]


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 2.1.3.2: whether ``path`` proves ``leaf`` at ``index`` under ``root``."""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    current = leaf
    for sibling in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            current = node_hash(sibling, current)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            current = node_hash(current, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and current == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2: whether ``path`` proves the tree of ``old_size`` a prefix of the
    tree of ``new_size``."""
    if not 0 < old_size <= new_size:
        return False
    if old_size == new_size:
        return not path and old_root == new_root
    proof = list(path)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root itself starts the proof
        proof.insert(0, old_root)
    if not proof:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


def roots_at(leaves: Iterable[bytes], sizes: Iterable[int]) -> dict[int, bytes]:
    """Build the tree over ``leaves`` once, streaming, and return its root at each size."""
    wanted = sorted({size for size in sizes if size > 0})
    roots = {0: EMPTY_ROOT} if 0 in set(sizes) else {}
    frontier = Frontier.empty()
    position = 0
    for leaf in leaves:
        frontier.append(leaf)
        while position < len(wanted) and wanted[position] == frontier.size:
            roots[frontier.size] = frontier.root()
            position += 1
    return roots
