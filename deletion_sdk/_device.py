"""Device selection shared by training, unlearning and verification."""

from __future__ import annotations

import torch

from deletion_sdk.errors import InputError

__all__ = ["autocast", "resolve_device"]


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"``/None picks CUDA when present, else CPU; anything else must name a usable device."""
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise InputError(
            f"The 'device' parameter must be 'auto', 'cpu' or 'cuda[:N]'. Got {device!r} instead."
        ) from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"The 'device' parameter asks for {dev} but no CUDA device is available.")
    return dev


def autocast(device: torch.device) -> torch.autocast:
    """bf16 autocast on CUDA; a disabled autocast elsewhere (CPU runs in float32)."""
    if device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return torch.autocast(device_type="cpu", enabled=False)
