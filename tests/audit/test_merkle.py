"""The Merkle module against RFC 9162's recursive definitions, written out naively here."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sharing.audit import merkle


def _mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return merkle.leaf_hash(leaves[0])
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return merkle.node_hash(_mth(leaves[:k]), _mth(leaves[k:]))


def _path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n <= 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return [*_path(m, leaves[:k]), _mth(leaves[k:])]
    return [*_path(m - k, leaves[k:]), _mth(leaves[:k])]


def _subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole else [_mth(leaves)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return [*_subproof(m, leaves[:k], whole), _mth(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), _mth(leaves[:k])]


def _stored(leaves: list[bytes]) -> tuple[merkle.Frontier, dict[merkle.NodeId, bytes]]:
    frontier = merkle.Frontier.empty()
    nodes: dict[merkle.NodeId, bytes] = {}
    for data in leaves:
        for level, index, digest in frontier.append(merkle.leaf_hash(data)):
            nodes[level, index] = digest
    return frontier, nodes


sizes = st.integers(min_value=1, max_value=70)


@given(sizes, st.data())
def test_root_inclusion_and_consistency_match_rfc_9162(size: int, data: st.DataObject) -> None:
    leaves = [f"event {i}".encode() for i in range(size)]
    frontier, nodes = _stored(leaves)
    root = frontier.root()
    assert root == _mth(leaves)
    assert merkle.Frontier.from_bytes(size, frontier.to_bytes()).root() == root

    index = data.draw(st.integers(0, size - 1))
    path = merkle.range_hashes(merkle.inclusion_ranges(index, size), nodes)
    assert path == _path(index, leaves)
    assert merkle.verify_inclusion(merkle.leaf_hash(leaves[index]), index, size, path, root)
    assert not merkle.verify_inclusion(merkle.leaf_hash(b"forged"), index, size, path, root)
    if size > 1:
        assert not merkle.verify_inclusion(
            merkle.leaf_hash(leaves[index]), (index + 1) % size, size, path, root
        )

    old = data.draw(st.integers(1, size))
    proof = merkle.range_hashes(merkle.consistency_ranges(old, size), nodes)
    assert proof == _subproof(old, leaves, True)
    old_root = _mth(leaves[:old])
    assert merkle.verify_consistency(old, size, old_root, root, proof)
    if old < size:
        assert not merkle.verify_consistency(old, size, _mth([b"x", *leaves[1:old]]), root, proof)
        assert not merkle.verify_consistency(old, size, old_root, _mth(leaves[:-1]), proof)


def test_roots_at_streams_one_pass() -> None:
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(20)]
    roots = merkle.roots_at(iter(leaves), [0, 1, 7, 20])
    assert roots[0] == merkle.EMPTY_ROOT
    assert roots[7] == _mth([bytes([i]) for i in range(7)])
    assert roots[20] == _mth([bytes([i]) for i in range(20)])


def test_frontier_rejects_a_packed_edge_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="2 hashes"):
        merkle.Frontier.from_bytes(3, b"\x00" * 32)
