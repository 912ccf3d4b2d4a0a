"""The lineage package: its public names, and leaf bytes and roots pinned to the values ever registered.

The pinned figures were produced by the single-module ``ledger/lineage.py`` before it was split; a
change to any of them would change every dataset's ``examples_root`` and every forget-set root.
"""

from __future__ import annotations

import hashlib

import pytest

from deletion_sdk.errors import InputError
from deletion_sdk.ledger import lineage
from deletion_sdk.merkle import EMPTY_ROOT, merkle_root

PUBLIC = [
    "MANIFEST_COLUMNS",
    "MAX_AGE",
    "SPLITS",
    "ExampleInput",
    "ParsedManifest",
    "dataset_examples",
    "examples_root",
    "get_dataset",
    "is_suppressed",
    "leaf_bytes",
    "leaves_root",
    "list_datasets",
    "list_suppressions",
    "read_manifest",
    "register_examples",
    "resolve_forget_set",
    "suppress",
]

PAIRS = [
    ("ex-000017", hashlib.sha256(b"test").hexdigest()),
    ('quote"back\\slash\ttab', hashlib.sha256(b"a").hexdigest()),
    ("\u00e9moji-\U0001f600\u2028", hashlib.sha256(b"b").hexdigest()),
]


def test_public_names_are_pinned() -> None:
    assert lineage.__all__ == PUBLIC  # sorted as ruff (RUF022) sorts it: constants, classes, functions


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_imports_from_the_package(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from deletion_sdk.ledger.lineage import {name}", namespace)
    assert namespace[name] is getattr(lineage, name)
    if callable(namespace[name]):  # defined in one of the concept modules, re-exported here
        assert getattr(namespace[name], "__module__", "").startswith("deletion_sdk.ledger.lineage.")


def test_leaf_bytes_are_pinned() -> None:
    assert [lineage.leaf_bytes(i, d) for i, d in PAIRS] == [
        b'["ex-000017","9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]',
        b'["quote\\"back\\\\slash\\ttab","ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"]',
        '["\u00e9moji-\U0001f600\u2028","3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"]'.encode(),
    ]


def test_roots_are_pinned() -> None:
    assert lineage.leaves_root(sorted(PAIRS)) == (
        "352f622054ad5a5d56f08f58f0a57564ed031352c0dc82ab114a7f3b4a8d34ca"
    )
    assert lineage.leaves_root(PAIRS[:1]) == (
        "702a74a2968ab25e9c76f2f8163505da7540f60a25ddd5b9f6589bd9b33afeb4"
    )
    leaves = [lineage.leaf_bytes(i, d) for i, d in sorted(PAIRS)]
    assert lineage.leaves_root(sorted(PAIRS)) == merkle_root(leaves).hex()
    assert lineage.leaves_root([]) == EMPTY_ROOT.hex()


@pytest.mark.parametrize(("example_id", "digest"), [(17, "ab"), ("ex-1", None), ("ex-1", b"ab")])
def test_leaf_parts_must_be_strings(example_id: object, digest: object) -> None:
    with pytest.raises(InputError, match="must be a str"):
        lineage.leaf_bytes(example_id, digest)  # type: ignore[arg-type]
