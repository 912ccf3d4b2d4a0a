"""Array plumbing shared by the verification modules.

* :func:`as_float_array` / :func:`as_int_array` accept numpy arrays, torch tensors (any device) or sequences
  and return numpy, validating the shape and naming the parameter when it is wrong.
* :data:`FloatArray`, :data:`IntArray`, :data:`BoolArray` are pydantic field types: a read-only numpy array in
  Python, a JSON list on the wire, so a frozen result model keeps ``model_validate`` /
  ``model_dump_json`` round trips.
* :class:`FrozenModel` is the base of every verification result: frozen, extra fields forbidden, and an
  equality that compares array fields by value (pydantic's default ``==`` would ask an array for its truth
  value).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, PlainSerializer, PlainValidator

from deletion_sdk.errors import InputError

__all__ = [
    "BoolArray",
    "FloatArray",
    "FrozenModel",
    "IntArray",
    "as_float_array",
    "as_int_array",
    "check_fraction",
]

ArrayLike = np.ndarray | torch.Tensor | Sequence[float] | Sequence[int]


def _to_numpy(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu").numpy()
    return np.asarray(value)


def as_float_array(value: Any, *, name: str, ndim: int | None = None, allow_nan: bool = False) -> np.ndarray:
    """``value`` as a float64 numpy array (a copy when it had to be converted).

    Args:
        value: numpy array, torch tensor (any device) or nested sequence of numbers.
        name: the parameter's name, used in error messages.
        ndim: the number of dimensions it must have, or None for any.
        allow_nan: whether NaN entries are allowed (never infinities).

    Raises:
        InputError: wrong number of dimensions, non-numeric, or non-finite values.
    """
    try:
        arr = _to_numpy(value).astype(np.float64, copy=False)
    except (TypeError, ValueError) as e:
        raise InputError(f"The '{name}' parameter must be an array of numbers. Got {type(value)!r}.") from e
    if ndim is not None and arr.ndim != ndim:
        raise InputError(
            f"The '{name}' parameter must be a {ndim}-dimensional array. Got shape {arr.shape} instead."
        )
    bad = np.isinf(arr) if allow_nan else ~np.isfinite(arr)
    if bad.any():
        what = "infinite" if allow_nan else "NaN or infinite"
        raise InputError(f"The '{name}' parameter must hold finite numbers. Got {int(bad.sum())} {what}.")
    return arr


def as_int_array(value: Any, *, name: str, ndim: int | None = None) -> np.ndarray:
    """``value`` as an int64 numpy array; floats are accepted only when they are whole numbers."""
    arr = _to_numpy(value)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise InputError(f"The '{name}' parameter must hold integers. Got non-integral values.")
    elif arr.dtype.kind not in "iub":
        raise InputError(f"The '{name}' parameter must hold integers. Got dtype {arr.dtype} instead.")
    arr = arr.astype(np.int64, copy=False)
    if ndim is not None and arr.ndim != ndim:
        raise InputError(
            f"The '{name}' parameter must be a {ndim}-dimensional array. Got shape {arr.shape} instead."
        )
    return arr


def check_fraction(value: float, *, name: str, open_interval: bool = True) -> float:
    """Validate a probability-like parameter in (0, 1) (or [0, 1] when ``open_interval`` is False)."""
    v = float(value)
    ok = (0.0 < v < 1.0) if open_interval else (0.0 <= v <= 1.0)
    if not ok or math.isnan(v):
        interval = "(0, 1)" if open_interval else "[0, 1]"
        raise InputError(f"The '{name}' parameter must be a float in {interval}. Got {value!r} instead.")
    return v


def _validator(dtype: type[np.generic]) -> Any:
    def validate(value: Any) -> np.ndarray:
        arr = np.array(_to_numpy(value), dtype=dtype, copy=True)
        arr.setflags(write=False)
        return arr

    return validate


def _serialize(arr: np.ndarray) -> list[Any]:
    return arr.tolist()  # type: ignore[no-any-return]


FloatArray = Annotated[np.ndarray, PlainValidator(_validator(np.float64)), PlainSerializer(_serialize)]
IntArray = Annotated[np.ndarray, PlainValidator(_validator(np.int64)), PlainSerializer(_serialize)]
BoolArray = Annotated[np.ndarray, PlainValidator(_validator(np.bool_)), PlainSerializer(_serialize)]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.shape == b.shape
            and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


class FrozenModel(BaseModel):
    """Frozen pydantic base whose ``==`` compares numpy fields by value."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BaseModel) or type(self) is not type(other):
            return NotImplemented
        return all(_same(getattr(self, k), getattr(other, k)) for k in type(self).model_fields)

    def __hash__(self) -> int:  # frozen models are hashable by identity of their JSON form
        return hash(self.model_dump_json())
