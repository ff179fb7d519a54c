"""meshd.core.jsontext writes exactly orjson's bytes (sorted keys; indented and compact)."""

from __future__ import annotations

import math
import struct

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshd.core import jsontext

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)  # orjson refuses lone surrogates
SCALARS = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | TEXT
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(TEXT, inner, max_size=5),
                      max_leaves=40)

PRETTY = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS


@settings(max_examples=2000, deadline=None)
@given(VALUES)
def test_equals_orjson(value: object) -> None:
    assert jsontext.dumps(value).encode() == orjson.dumps(value, option=PRETTY)
    assert jsontext.dumps(value, indent=False).encode() == orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


@settings(max_examples=5000, deadline=None)
@given(st.integers(0, 2**64 - 1))
def test_every_float_bit_pattern(bits: int) -> None:
    x = struct.unpack("<d", struct.pack("<Q", bits))[0]
    assert jsontext.number(x).encode() == orjson.dumps(x)


@pytest.mark.parametrize("x", [0.0, -0.0, 1e-5, 1e-6, 9.999999e-6, 1.5e-7, 0.0001, 1e15, 1e16, 1e21, 5e-324,
                               1.7976931348623157e308, math.nan, math.inf, -math.inf, 2.5e-05, 123.456])
def test_float_edges(x: float) -> None:
    assert jsontext.number(x).encode() == orjson.dumps(x)


def test_strings_and_containers() -> None:
    value = {"b": ["x\x00\x1f\x7f\u2028\"\\\n\t\b\f\r", (), {}, [[]]], "a": (1, True, None), "é": "ü"}
    assert jsontext.dumps(value).encode() == orjson.dumps(value, option=PRETTY)


def test_refuses_what_orjson_refuses() -> None:
    with pytest.raises(TypeError):
        jsontext.dumps({1: 2})
    with pytest.raises(TypeError):
        jsontext.dumps({"a": object()})
    with pytest.raises(TypeError):
        jsontext.dumps([{1, 2}])


def test_subclasses_as_orjson_writes_them() -> None:
    import enum

    class Name(str, enum.Enum):
        A = "x"

    class Num(enum.IntEnum):
        B = 3

    value = {"a": Name.A, "b": Num.B, "c": [Num.B, Name.A]}
    assert jsontext.dumps(value).encode() == orjson.dumps(value, option=PRETTY)
    for bad in ({Name.A: 1}, {Num.B: 1}):  # not str keys, for orjson either
        with pytest.raises(TypeError):
            orjson.dumps(bad, option=PRETTY)
        with pytest.raises(TypeError):
            jsontext.dumps(bad)


def test_emit_json_leaves_other_types_to_orjson(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    import datetime

    from meshctl.render import emit_json

    value = {"when": datetime.date(2026, 1, 9), "n": 1}
    emit_json(value)
    assert capsysbinary.readouterr().out == orjson.dumps(value, option=PRETTY) + b"\n"
