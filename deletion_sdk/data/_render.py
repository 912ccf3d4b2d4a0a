"""Vectorised face renderer behind :mod:`deletion_sdk.data.synthfaces`.

A batch of ``B`` faces is painted at once on coordinate grids ``[B, S, S]``: every layer (background,
shoulders, neck, hair, ears, head, skin texture, wrinkles, moles, beard, eyes, brows, nose, mouth,
glasses) is a soft mask — a sigmoid of an approximate signed distance, about a pixel wide —
composited over the image in place; darkening layers (wrinkles, folds, moles, shadows) accumulate
into one map applied before the next opaque layer. Per-image pose (roll, yaw, shift, scale),
lighting, colour cast, expression and sensor noise come from the parameters. No per-pixel Python
loop anywhere.

The renderer uses numpy (float32), which runs its element-wise kernels on the calling thread: the
many small operations gain nothing from intra-op threading, and on a busy machine torch's thread
pool made rendering up to 8× slower (measured on 2 shared cores), so this module stays out of it
without touching any process-wide setting.

Coordinates: the image spans ``[-1, 1]`` on both axes, ``u`` to the right, ``v`` downwards, in the
face's frame after the pose transform.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["render_faces"]

Array = np.ndarray
Params = Mapping[str, Array]
Scalar = Array | float

_WHITE = (0.93, 0.92, 0.90)
_GREY_HAIR = (0.80, 0.80, 0.82)
_BLUSH = (0.85, 0.35, 0.35)
_MOUTH = (0.25, 0.06, 0.06)
_LIPS = (0.85, 0.55, 0.55)
_PUPIL = (0.05, 0.05, 0.05)


def _c(t: Scalar) -> Scalar:
    """``[B] -> [B, 1, 1]`` for broadcasting against ``[B, S, S]`` grids; grids and floats pass through."""
    return t.reshape(-1, 1, 1) if isinstance(t, np.ndarray) and t.ndim == 1 else t


def _sigmoid(x: Array) -> Array:
    return np.tanh(x * 0.5) * 0.5 + 0.5


class _Canvas:
    """The image being painted plus an accumulated darkening map."""

    def __init__(self, background: Array, px: Array) -> None:
        self.image = background  # [B, 3, S, S] float32
        self.px = px  # [B, 1, 1]: one pixel in face units
        self.dark = np.zeros_like(background[:, 0])
        self._buf = np.empty_like(background)
        self._dirty = False

    def soft(self, signed: Array, width: float = 1.0) -> Array:
        """Mask from a signed distance (> 0 inside), antialiased over about ``width`` pixels."""
        return _sigmoid(signed * (4.0 / width) / self.px)

    def ellipse(
        self, u: Array, v: Array, cx: Scalar, cy: Scalar, ax: Scalar, ay: Scalar, width: float = 1.0
    ) -> Array:
        """Soft ellipse mask. The signed distance is the first-order estimate ``-f / |grad f|`` of
        ``f = (du/ax)^2 + (dv/ay)^2 - 1``: exact on the boundary, sensible far from it, and right for
        ellipses thinner than a pixel. (Written with in-place operations: this is the hot loop.)"""
        iax, iay = 1.0 / _c(ax), 1.0 / _c(ay)
        du = u - _c(cx)
        du *= iax
        dv = v - _c(cy)
        dv *= iay
        f = du * du
        f += dv * dv
        f -= 1.0
        du *= iax
        du *= du
        dv *= iay
        dv *= dv
        du += dv
        du += 1e-6
        np.sqrt(du, out=du)
        f *= -1.0 / (width * self.px)  # sigmoid(4d / (w px)) = 0.5 + 0.5 tanh(2d / (w px)), d = -f / (2 sqrt)
        f /= du
        np.tanh(f, out=f)
        f *= 0.5
        f += 0.5
        return f

    def paint(self, mask: Array, colour: Array, alpha: Scalar = 1.0) -> None:
        """Composite ``colour`` ``[B, 3]`` through ``mask`` ``[B, S, S]``, in place."""
        self.flush()
        weight = (mask * _c(alpha))[:, None]
        np.subtract(colour[:, :, None, None], self.image, out=self._buf)
        self._buf *= weight
        self.image += self._buf

    def shade(self, mask: Array, factor: Scalar) -> None:
        """Darken by ``mask * factor``, deferred until the next :meth:`paint` or :meth:`flush`."""
        self.dark += mask * _c(factor)
        self._dirty = True

    def flush(self) -> None:
        if self._dirty:
            np.clip(self.dark, 0.0, 0.95, out=self.dark)
            self.image *= (1 - self.dark)[:, None]
            self.dark.fill(0.0)
            self._dirty = False


def _const(b: int, rgb: tuple[float, float, float]) -> Array:
    return np.broadcast_to(np.asarray(rgb, dtype=np.float32), (b, 3))


def _lerp(a: Array, b: Array, w: Array) -> Array:
    return a + w * (b - a)


def render_faces(p: Params, *, image_size: int, rng: np.random.Generator) -> Array:
    """Render one batch of faces.

    Args:
        p: per-image parameters, float32 arrays ``[B]`` (colours ``[B, 3]``, moles ``[B, M]``); the
            keys are those produced by ``deletion_sdk.data.synthfaces._image_params``.
        image_size: output side ``S``.
        rng: source of the per-pixel randomness (skin texture, sensor noise).

    Returns:
        uint8 images ``[B, 3, S, S]``.
    """
    b, s = p["roll"].shape[0], image_size
    lin = ((np.arange(s, dtype=np.float32) + 0.5) / s * 2 - 1).astype(np.float32)
    x0, y0 = lin[None, None, :], lin[None, :, None]
    cos, sin, scale = _c(np.cos(p["roll"])), _c(np.sin(p["roll"])), _c(p["scale"])
    xr, yr = x0 - _c(p["tx"]), y0 - _c(p["ty"])
    u = (cos * xr + sin * yr) / scale
    v = (-sin * xr + cos * yr) / scale

    # Background: a two-colour gradient in a random direction (image frame).
    g = _sigmoid(2.5 * (_c(np.cos(p["bg_angle"])) * x0 + _c(np.sin(p["bg_angle"])) * y0))
    background = _lerp(p["bg1"][:, :, None, None], p["bg2"][:, :, None, None], g[:, None])
    cv = _Canvas(np.ascontiguousarray(background, dtype=np.float32), px=np.asarray((2.0 / s) / scale))

    # Proportions: children have bigger, rounder heads and eyes set lower, smaller lower faces.
    child = p["child"]  # 1 at birth, 0 from 20 years
    hw = 0.45 * (1 + 0.16 * child) * p["face_width"]
    hh = hw * (1.30 - 0.24 * child) * p["face_aspect"]
    hc = -0.08 + 0.02 * child
    yaw = p["yaw"]
    shift = 0.22 * yaw * hw / 0.45  # features move towards the turned side
    eye_y = hc + hh * (-0.02 + 0.26 * child)
    lower = hc + hh - eye_y  # eyes -> chin
    nose_y = eye_y + lower * (0.45 - 0.08 * child)
    mouth_y = eye_y + lower * (0.70 - 0.06 * child)
    # Paired features (eyes, brows, cheeks, wrinkles, glasses) are drawn once in mirrored coordinates:
    # ``um`` is the distance from the face's midline, ``side`` = -1 left of it, +1 right.
    um = np.abs(u - _c(shift))
    side = np.sign(u - _c(shift))
    eye_x = p["eye_spacing"] * hw

    # Shoulders, neck, long hair behind the head.
    cv.paint(cv.ellipse(u, v, 0.0, 1.30, 0.95 * (1 - 0.3 * child), 0.52), p["clothes"])
    neck_w = _c(0.19 * hw / 0.45 * (1 - 0.2 * child))
    neck = cv.soft(neck_w - np.abs(u - _c(0.3 * shift))) * cv.soft(v - _c(hc + 0.6 * hh)) * cv.soft(1.02 - v)
    cv.paint(neck, p["skin"] * 0.82)
    hair = _lerp(p["hair"], _const(b, _GREY_HAIR), p["grey"][:, None])
    length = p["hair_length"]
    long_back = cv.ellipse(u, v, 0.0, hc + 0.20 * hh, hw * 1.20, hh * 1.10)
    long_back = long_back * cv.soft(_c(hc + hh * (0.30 + 0.9 * length)) - v)
    cv.paint(long_back, hair, alpha=(length > 0.15) * p["hair_density"])

    # Ears, then the head (the jaw narrows its lower half).
    ear_x = _c(hw) * (1.0 - 0.08 * np.sign(u) * _c(yaw))
    cv.paint(cv.ellipse(np.abs(u), v, ear_x, eye_y + 0.06 * hh, 0.07, 0.11), p["skin"] * 0.88)
    jaw = 1 - _c(p["jaw"]) * np.clip((v - _c(hc)) / _c(hh), 0, 1) ** 2
    head = cv.ellipse(u / jaw, v, 0.0, hc, hw, hh)
    cv.paint(head, p["skin"])

    # Skin: blush (children), texture and wrinkles (age), under-eye bags, folds, jowls, moles.
    cheeks = cv.ellipse(um, v, eye_x + 0.12, eye_y + 0.3 * lower, 0.11, 0.08, 6.0)
    cv.paint(head * cheeks, _const(b, _BLUSH), alpha=0.22 * child + 0.04)
    wr = p["wrinkle"]
    texture = rng.standard_normal((b, s, s), dtype=np.float32)
    cv.shade(head * texture, -(0.015 + 0.06 * wr + 0.02 * (1 - child)))
    forehead = head * cv.soft(_c(eye_y - 0.17 * hh) - v, 2.0) * cv.soft(v - _c(hc - 0.62 * hh), 2.0)
    lines = (0.5 + 0.5 * np.cos(2 * np.pi * (v - _c(eye_y)) / _c(0.12 * hh / 0.58))) ** 4
    cv.shade(forehead * lines, 0.30 * wr)
    corner = cv.ellipse(um, v, eye_x + 0.15 * hw, eye_y, 0.06, 0.07, 2.0)
    cv.shade(corner * (0.5 + 0.5 * np.cos(2 * np.pi * v / 0.05)) ** 2, 0.35 * wr)
    cv.shade(cv.ellipse(um, v, eye_x, eye_y + 0.09 * hh / 0.58, 0.09, 0.035, 2.0), 0.22 * wr)
    fold_x = _c(0.10 * hw / 0.45) + (v - _c(nose_y)) * 0.55
    fold = head * cv.soft(0.012 - np.abs(um - fold_x))
    fold = fold * cv.soft(v - _c(nose_y), 1.5) * cv.soft(_c(mouth_y + 0.03) - v, 1.5)
    cv.shade(fold, 0.40 * wr)
    cv.shade(head * cv.soft(v - _c(mouth_y + 0.08), 2.0), 0.12 * wr)
    for k in range(p["mole_u"].shape[1]):
        mole = cv.ellipse(u, v, p["mole_u"][:, k] * hw + shift, hc + p["mole_v"][:, k] * hh, 0.03, 0.03)
        cv.shade(mole * head, 0.55 * p["mole_on"][:, k])

    # Beard (adults), under the mouth.
    cv.paint(head * cv.soft(v - _c(nose_y + 0.03), 2.0), hair * 0.9, alpha=p["beard"])

    # Hair on top: receding hairline (higher at the temples), volume, fringe, side hair.
    vol = p["hair_volume"]
    outer = cv.ellipse(u, v, 0.0, hc - vol * 0.4 * hh, hw * (1.03 + vol), hh * (1.03 + 0.8 * vol))
    rec = p["recession"]
    hairline = _c(hc - hh * (0.45 - 0.30 * p["fringe"] + 0.60 * rec)) - _c(0.35 * rec * hh) * np.abs(
        u / _c(hw)
    )
    side_in = _c(hw * (0.90 - 0.12 * length))
    sides = cv.soft(np.abs(u - _c(0.3 * shift)) - side_in) * cv.soft(
        _c(eye_y + hh * (0.8 * length - 0.15)) - v
    )
    top = outer * np.maximum(cv.soft(hairline - v), sides * _c(1 - np.clip(rec, 0, 1) ** 2))
    cv.paint(top, hair, alpha=p["hair_density"])

    # Eyes and brows.
    brow_col = _lerp(p["hair"] * 0.75, _const(b, _GREY_HAIR), 0.5 * p["grey"][:, None])
    size = _c(p["eye_size"] * (1 + 0.30 * child))
    narrow = 1 - 0.35 * side * _c(yaw)  # the eye on the far side of a turned head looks narrower
    ew = 0.080 * size * narrow
    eh = 0.042 * size * _c(p["eye_open"] * (1 - 0.25 * wr))
    sclera = cv.ellipse(um, v, eye_x, eye_y, ew, eh)
    cv.paint(sclera, _const(b, _WHITE))
    gaze = _c(eye_x) + side * _c(p["gaze"]) * ew  # both eyes look the same way
    iris = 0.55 * 0.080 * size
    cv.paint(cv.ellipse(um, v, gaze, eye_y, iris, iris) * sclera, p["iris"])
    cv.paint(cv.ellipse(um, v, gaze, eye_y, 0.25 * ew, 0.25 * ew) * sclera, _const(b, _PUPIL))
    brow_y = eye_y - 0.10 * hh / 0.58 - 0.02 * p["surprise"]
    cv.paint(cv.ellipse(um, v, eye_x, brow_y, 1.25 * ew, 0.012 + 0.02 * p["brow"]), brow_col, alpha=0.9)

    # Nose and mouth.
    nose = p["nose"] * (1 - 0.3 * child)
    bridge_shadow = cv.ellipse(u, v, 1.2 * shift, nose_y - 0.07 * hh / 0.58, 0.03 * nose, 0.10 * nose)
    cv.shade(bridge_shadow, 0.10 + 0.15 * p["light"])
    cv.shade(cv.ellipse(np.abs(u - _c(1.2 * shift)), v, 0.03 * nose, nose_y, 0.022, 0.013), 0.45)
    mw = 0.13 * p["mouth_width"] * (1 - 0.25 * child)
    vm = v - _c(mouth_y) + _c(0.05 * p["smile"]) * (((u - _c(shift)) / _c(mw)) ** 2 - 0.5)
    lips = cv.ellipse(u, vm, shift, 0.0, mw, 0.022 + 0.035 * p["mouth_open"])
    cv.paint(lips, p["skin"] * np.asarray(_LIPS, dtype=np.float32))
    inner = cv.ellipse(u, vm, shift, 0.0, 0.8 * mw, 0.004 + 0.035 * p["mouth_open"])
    cv.paint(inner, _const(b, _MOUTH), alpha=np.sqrt(np.clip(p["mouth_open"], 0, 1)))

    # Glasses (two rings and a bridge), computed only for the images that have them.
    worn = np.flatnonzero(p["glasses"] > 0)
    if worn.size:
        r = _c(0.13 * (1 + 0.2 * child[worn]))
        um_w, v_w, ey = um[worn], v[worn], _c(eye_y[worn])
        ring = np.sqrt((um_w - _c(eye_x[worn])) ** 2 + ((v_w - ey) / 0.85) ** 2 + 1e-12)
        px = cv.px[worn]
        frame = _sigmoid((0.014 - np.abs(ring - r)) * 4.0 / px)
        bridge = _sigmoid((0.012 - np.abs(v_w - ey + 0.02)) * 4.0 / px)
        bridge *= _sigmoid((_c(eye_x[worn]) - r - um_w) * 4.0 / px)
        cv.flush()
        sub = cv.image[worn]
        weight = (np.maximum(frame, bridge) * _c(p["glasses"][worn]))[:, None]
        sub += weight * (p["frame"][worn][:, :, None, None] - sub)
        cv.image[worn] = sub

    # Lighting, colour cast, sensor noise.
    cv.flush()
    direction = _c(np.cos(p["light_angle"])) * u + _c(np.sin(p["light_angle"])) * v
    light = 1 + _c(p["light"]) * direction * 0.6
    gain = (p["brightness"][:, None] * (1 + p["cast"]))[:, :, None, None]
    image = cv.image
    image *= light[:, None]
    image *= gain
    image += rng.standard_normal((b, 3, s, s), dtype=np.float32) * p["noise"].reshape(-1, 1, 1, 1)
    np.clip(image, 0, 1, out=image)
    image *= 255
    return np.rint(image).astype(np.uint8)
