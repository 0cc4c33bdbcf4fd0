"""Inclusion and consistency proofs read from the stored Merkle nodes."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, Table, and_, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from sharing.audit import merkle
from sharing.audit.models import MerkleNode

_NODES: Table = MerkleNode.__table__  # type: ignore[attr-defined]
_NODES_PER_QUERY = 200  # SQLite refuses an expression deeper than 1,000 terms


async def inclusion_path(session: AsyncSession, index: int, tree_size: int) -> list[bytes]:
    """RFC 9162 inclusion path of leaf ``index`` in the tree of ``tree_size`` leaves.
    The caller checks that ``tree_size`` is a size the log has reached."""
    ranges = merkle.inclusion_ranges(index, tree_size)
    return merkle.range_hashes(ranges, await _nodes(session, merkle.needed_nodes(ranges)))


async def leaf_and_inclusion_path(
    session: AsyncSession, index: int, tree_size: int
) -> tuple[bytes | None, list[bytes]]:
    """The stored hash of leaf ``index`` and its inclusion path in the tree of ``tree_size``
    leaves, read in one query (None for the leaf if its node is missing)."""
    return (await leaves_and_inclusion_paths(session, [index], tree_size))[index]


async def leaves_and_inclusion_paths(
    session: AsyncSession, indices: Sequence[int], tree_size: int
) -> dict[int, tuple[bytes | None, list[bytes]]]:
    """``leaf_and_inclusion_path`` for many leaves at once: neighbouring leaves share most
    of their paths, so a page of proofs reads each node once, not once per proof."""
    ranges = {index: merkle.inclusion_ranges(index, tree_size) for index in indices}
    wanted = {(0, index) for index in indices}.union(
        *(merkle.needed_nodes(r) for r in ranges.values())
    )
    nodes = await _nodes(session, wanted)
    return {
        index: (nodes.get((0, index)), merkle.range_hashes(r, nodes)) for index, r in ranges.items()
    }


async def consistency_path(session: AsyncSession, old_size: int, new_size: int) -> list[bytes]:
    """RFC 9162 consistency path from the tree of ``old_size`` leaves to ``new_size``."""
    ranges = merkle.consistency_ranges(old_size, new_size)
    return merkle.range_hashes(ranges, await _nodes(session, merkle.needed_nodes(ranges)))


async def leaf_hash_at(session: AsyncSession, index: int) -> bytes | None:
    """The stored hash of leaf ``index``."""
    nodes = await _nodes(session, {(0, index)})
    return nodes.get((0, index))


async def root_at(session: AsyncSession, tree_size: int) -> bytes:
    """The root hash the log had at ``tree_size`` leaves, folded from stored nodes."""
    if tree_size == 0:
        return merkle.EMPTY_ROOT
    pieces = merkle.complete_subtrees(0, tree_size)
    nodes = await _nodes(session, set(pieces))
    return merkle.fold([nodes[piece] for piece in pieces])


async def _nodes(session: AsyncSession, wanted: set[merkle.NodeId]) -> dict[merkle.NodeId, bytes]:
    found: dict[merkle.NodeId, bytes] = {}
    ordered = sorted(wanted)
    for start in range(0, len(ordered), _NODES_PER_QUERY):
        chunk = ordered[start : start + _NODES_PER_QUERY]
        params: dict[str, int] = {}
        for n, (level, index) in enumerate(chunk):
            params[f"level_{n}"], params[f"idx_{n}"] = level, index
        rows = (await session.execute(_nodes_query(len(chunk)), params)).all()
        found.update({(int(level), int(index)): bytes(digest) for level, index, digest in rows})
    return found


@lru_cache(maxsize=256)
def _nodes_query(count: int) -> Select[Any]:
    """The query for ``count`` nodes, built once per count: building the expression anew
    for every proof was a good part of a proof's time."""
    # One primary-key lookup per node: SQLite answers a row-value IN by scanning the whole
    # table (millions of nodes), but an OR of equalities by searching the key for each.
    return select(_NODES.c.level, _NODES.c.idx, _NODES.c.hash).where(
        or_(
            *(
                and_(
                    _NODES.c.level == bindparam(f"level_{n}"), _NODES.c.idx == bindparam(f"idx_{n}")
                )
                for n in range(count)
            )
        )
    )
