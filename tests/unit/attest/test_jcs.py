"""RFC 8785 test vectors: the number table of Appendix B, the sorting and serialisation examples."""

from __future__ import annotations

import struct

import pytest

from deletion_sdk.attest.jcs import canonical_digest, canonical_json
from deletion_sdk.errors import InputError

# RFC 8785 Appendix B: IEEE-754 bit pattern -> ECMAScript serialisation.
NUMBERS = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),  # minus zero
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "expected"), NUMBERS)
def test_number_serialisation(bits: str, expected: str) -> None:
    value = struct.unpack(">d", bytes.fromhex(bits))[0]
    assert canonical_json(value) == expected.encode()


@pytest.mark.parametrize("bits", ["7fffffffffffffff", "7ff0000000000000"])  # NaN, Infinity
def test_nan_and_infinity_are_refused(bits: str) -> None:
    with pytest.raises(InputError):
        canonical_json(struct.unpack(">d", bytes.fromhex(bits))[0])


def test_serialisation_example_of_section_3_2_2() -> None:
    data = {
        "numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/",
        "literals": [None, True, False],
    }
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonical_json(data) == expected.encode("utf-8")


def test_property_sorting_example_of_section_3_2_3() -> None:
    data = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    out = canonical_json(data).decode("utf-8")
    order = ["\\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    positions = [out.index(f'"{k}":') for k in order]
    assert positions == sorted(positions)  # UTF-16 code-unit order puts the emoji before U+FB33
    assert out.startswith('{"\\r":"Carriage Return","1":"One"')


def test_nested_objects_and_whitespace() -> None:
    assert canonical_json({"b": [1, {"d": 1, "c": 2}], "a": "x"}) == b'{"a":"x","b":[1,{"c":2,"d":1}]}'


def test_integers_beyond_ijson_are_refused() -> None:
    with pytest.raises(InputError):
        canonical_json(2**60)
    with pytest.raises(InputError):
        canonical_json({1: "non-string key"})


def test_digest_is_sha256_of_canonical_bytes() -> None:
    import hashlib

    value = {"z": 1, "a": [True, None]}
    assert canonical_digest(value) == hashlib.sha256(b'{"a":[true,null],"z":1}').hexdigest()
