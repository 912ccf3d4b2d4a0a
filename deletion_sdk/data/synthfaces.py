"""Procedural face images with ages: the SDK's reference data set, generated, never downloaded.

Each subject has stable identity traits — face width and shape, jaw, skin tone, eye spacing and
size, iris colour, hair colour, style, volume and fringe, greying onset, tendency to bald, glasses,
beard, brows, nose, mouth, moles — and an *apparent-age factor* (some people look older or younger
than they are). Every image of a subject varies pose (roll, yaw, shift, scale), lighting, colour
cast, expression (smile, open mouth, eye openness, gaze, raised brows), background, clothes and
sensor noise. The image's age is the subject's age plus a little jitter (photos taken at different
times); its *apparent* age drives the visible cues: head size, roundness and low-set features in
children, skin texture, wrinkles, under-eye bags and nasolabial folds, greying and a receding
hairline, beard growth from adolescence.

Because cues follow the apparent age while labels follow the true age, the task is learnable but
not trivially so, and a model can lower its training loss further by memorising its training
people — the membership signal that unlearning must remove.

Rendering is vectorised numpy on batches of images (:mod:`deletion_sdk.data._render`): 20,000
images at 32×32 take about 7 CPU-seconds on one core (``benchmarks/synthfaces_speed.py``).
Everything is deterministic from ``SynthFacesConfig.seed`` (numpy PCG64 streams).
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, model_validator

from deletion_sdk._fs import atomic_writer
from deletion_sdk.data._render import render_faces
from deletion_sdk.data.age_bins import AgeBins
from deletion_sdk.data.tensors import FaceTensors
from deletion_sdk.errors import InputError

__all__ = [
    "MANIFEST_COLUMNS",
    "SynthFaces",
    "SynthFacesConfig",
    "WrittenFaces",
    "generate_faces",
    "subject_id_for",
    "utkface_name",
    "write_faces",
]

MANIFEST_COLUMNS = ("example_id", "subject_id", "path", "age", "split")

_CHUNK_PIXELS = 1 << 16  # images per render batch = this / (S * S): keeps temporaries cache-sized

_HAIR = np.array(
    [
        [0.08, 0.06, 0.05],  # black
        [0.22, 0.14, 0.09],  # dark brown
        [0.40, 0.27, 0.16],  # brown
        [0.58, 0.44, 0.28],  # light brown
        [0.85, 0.72, 0.45],  # blond
        [0.62, 0.28, 0.12],  # red
    ]
)
_IRIS = np.array(
    [[0.30, 0.18, 0.10], [0.15, 0.09, 0.05], [0.25, 0.45, 0.70], [0.30, 0.50, 0.30], [0.45, 0.35, 0.15]]
)
_FRAME = np.array([[0.05, 0.05, 0.05], [0.55, 0.55, 0.60], [0.45, 0.15, 0.10], [0.10, 0.15, 0.45]])
_SKIN_LIGHT = np.array([0.97, 0.82, 0.71])
_SKIN_DARK = np.array([0.34, 0.21, 0.14])


class SynthFacesConfig(BaseModel):
    """What to generate.

    Attributes:
        n_subjects: number of people.
        images_per_subject: inclusive ``(min, max)``; each subject's count is uniform in it.
        image_size: side in pixels (32 by default; 64 and others work too).
        age_distribution: ``"young_skewed"`` (default, like the challenge's data: mostly teens to
            thirties, a tail of children and older people) or ``"uniform"``.
        min_age: youngest age in years.
        max_age: oldest age in years.
        apparent_age_spread: standard deviation of the log apparent-age factor per subject
            (how much older/younger than their age people look).
        age_jitter: scale of the per-image age variation around the subject's age
            (standard deviation ``age_jitter * (0.5 + 0.05 * age)`` years).
        seed: everything is a function of this.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_subjects: int = Field(default=200, ge=1)
    images_per_subject: tuple[int, int] = (1, 8)
    image_size: int = Field(default=32, ge=16, le=256)
    age_distribution: Literal["young_skewed", "uniform"] = "young_skewed"
    min_age: int = Field(default=1, ge=0)
    max_age: int = Field(default=85, le=120)
    apparent_age_spread: float = Field(default=0.15, ge=0)
    age_jitter: float = Field(default=1.0, ge=0)
    seed: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _check(self) -> SynthFacesConfig:
        lo, hi = self.images_per_subject
        if lo < 1 or hi < lo:
            raise ValueError(
                f"The 'images_per_subject' parameter must be (min, max) with 1 <= min <= max. "
                f"Got {self.images_per_subject!r} instead."
            )
        if self.max_age <= self.min_age:
            raise ValueError(
                f"The 'max_age' parameter must exceed min_age={self.min_age}. Got {self.max_age} instead."
            )
        return self


@dataclass(frozen=True, eq=False)
class SynthFaces:
    """A generated data set, in memory.

    Attributes:
        data: the images with age-group labels, ages and example ids; ``data.subject_ids`` holds
            each row's subject id.
        subject_index: int64 ``[n]``, row -> index into ``subjects``.
        subjects: the subject ids, ``"person-000123@synth.example"`` (personal identifiers for the
            SDK's purposes: never persist or log them).
        traits: per-subject identity traits, each ``[n_subjects]`` (colours ``[n_subjects, 3]``).
        genders: int64 ``[n_subjects]``, UTKFace convention (0 male, 1 female).
        races: int64 ``[n_subjects]``, UTKFace codes (0 White, 1 Black, 2 Asian, 3 Indian, 4 Others).
        config: the configuration that produced it.
    """

    data: FaceTensors
    subject_index: torch.Tensor
    subjects: tuple[str, ...]
    traits: dict[str, torch.Tensor]
    genders: torch.Tensor
    races: torch.Tensor
    config: SynthFacesConfig

    def __len__(self) -> int:
        return len(self.data)


def subject_id_for(index: int) -> str:
    """The synthetic identifier of subject ``index``."""
    return f"person-{index:06d}@synth.example"


def _example_id(seed: int, row: int) -> str:
    digest = hashlib.sha256(f"synthfaces:{seed}:{row}".encode()).hexdigest()
    return f"synth-{digest[:20]}"


Array = np.ndarray


def _sample_ages(cfg: SynthFacesConfig, n: int, g: np.random.Generator) -> Array:
    lo, hi = float(cfg.min_age), float(cfg.max_age)
    if cfg.age_distribution == "uniform":
        return g.uniform(lo, hi, n)
    # Young-skewed: a log-normal bulk (median 25 years) with a tail of children and older people.
    bulk = np.exp(np.log(25.0) + 0.42 * g.standard_normal(n))
    kids = g.uniform(lo, 14.0, n)
    elders = g.uniform(50.0, hi, n)
    pick = g.random(n)
    ages = np.where(pick < 0.16, kids, np.where(pick < 0.26, elders, bulk))
    return np.clip(ages, lo, hi)


def _subject_traits(cfg: SynthFacesConfig, g: np.random.Generator) -> dict[str, Array]:
    n = cfg.n_subjects
    age = _sample_ages(cfg, n, g)
    female = (g.random(n) < 0.5).astype(np.float64)
    tone = g.random(n) ** 1.3
    skin = _SKIN_LIGHT + tone[:, None] * (_SKIN_DARK - _SKIN_LIGHT) + 0.025 * g.standard_normal((n, 3))
    hair_idx = np.where(tone > 0.45, g.integers(0, 2, n), g.integers(0, len(_HAIR), n))
    hair = _HAIR[hair_idx] + 0.03 * g.standard_normal((n, 3))
    long_hair = np.where(female > 0, g.uniform(0.2, 1.0, n), g.uniform(0.0, 0.35, n))
    moles = 3
    return {
        "age": age,
        "female": female,
        "tone": tone,
        "skin": np.clip(skin, 0, 1),
        "hair": np.clip(hair, 0, 1),
        "hair_length": long_hair * (g.random(n) < 0.9),
        "hair_volume": g.uniform(0.0, 0.20, n),
        "fringe": g.uniform(0.0, 1.0, n) * (g.random(n) < 0.35),
        "grey_onset": 48 + 9 * g.standard_normal(n),
        "grey_speed": g.uniform(4.0, 10.0, n),
        "balding": np.where(
            female > 0, g.uniform(0.0, 0.12, n), g.uniform(0.0, 1.0, n) * (g.random(n) < 0.6)
        ),
        "face_width": g.uniform(0.91, 1.09, n),
        "face_aspect": g.uniform(0.90, 1.10, n),
        "jaw": g.uniform(0.05, 0.40, n),
        "eye_spacing": g.uniform(0.33, 0.47, n),
        "eye_size": g.uniform(0.85, 1.18, n),
        "iris": _IRIS[g.integers(0, len(_IRIS), n)],
        "brow": g.uniform(0.0, 1.0, n),
        "nose": g.uniform(0.8, 1.25, n),
        "mouth_width": g.uniform(0.8, 1.2, n),
        "glasses": (g.random(n) < 0.10 + 0.35 * np.clip((age - 40) / 30, 0, 1)).astype(np.float64),
        "frame": _FRAME[g.integers(0, len(_FRAME), n)],
        "beard": (1 - female) * (g.random(n) < 0.35) * g.uniform(0.3, 0.85, n),
        "mole_u": g.uniform(-0.65, 0.65, (n, moles)),
        "mole_v": g.uniform(-0.25, 0.75, (n, moles)),
        "mole_on": (g.random((n, moles)) < 0.35).astype(np.float64),
        "apparent": np.exp(cfg.apparent_age_spread * g.standard_normal(n)),
    }


_INHERITED = (
    "skin", "hair", "hair_volume", "fringe", "face_width", "face_aspect", "jaw", "eye_spacing", "eye_size",
    "iris", "brow", "nose", "mouth_width", "glasses", "frame", "mole_u", "mole_v", "mole_on",
)  # fmt: skip


def _image_params(
    cfg: SynthFacesConfig, t: dict[str, Array], subj: Array, g: np.random.Generator
) -> tuple[Array, dict[str, Array]]:
    """Per-image ages ``[n]`` (whole years) and render parameters for rows of subjects ``subj``."""
    n = subj.shape[0]
    sage = t["age"][subj]
    sd = cfg.age_jitter * (0.5 + 0.05 * sage)
    age = np.round(np.clip(sage + sd * g.standard_normal(n), cfg.min_age, cfg.max_age))
    app = np.maximum(age, 0.5) * t["apparent"][subj] * np.exp(0.05 * g.standard_normal(n))
    child = np.clip(1 - app / 20, 0, 1)
    wrinkle = np.clip((app - 22) / 48, 0, 1)
    p = {name: t[name][subj] for name in _INHERITED}
    p["skin"] = p["skin"] * (1 - 0.06 * wrinkle[:, None])
    p["hair_length"] = t["hair_length"][subj] * (1 - 0.5 * child)
    p["hair_volume"] = p["hair_volume"] + g.uniform(-0.03, 0.03, n)
    p["hair_density"] = np.minimum(0.3 + 0.7 * app / 3, 1.0)
    shaved = g.random(n) < 0.2
    p.update(
        child=child,
        wrinkle=wrinkle,
        grey=1 / (1 + np.exp(-(app - t["grey_onset"][subj]) / t["grey_speed"][subj])),
        recession=t["balding"][subj] * np.clip((app - 20) / 40, 0, 1),
        beard=t["beard"][subj] * np.clip((app - 15) / 8, 0, 1) * ~shaved,
        roll=0.10 * g.standard_normal(n),
        yaw=g.uniform(-0.35, 0.35, n),
        tx=0.045 * g.standard_normal(n),
        ty=0.045 * g.standard_normal(n),
        scale=1 + 0.05 * g.standard_normal(n),
        light=g.uniform(0.0, 0.35, n),
        light_angle=g.uniform(0.0, 2 * np.pi, n),
        brightness=g.uniform(0.8, 1.15, n),
        cast=0.04 * g.standard_normal((n, 3)),
        noise=g.uniform(0.01, 0.045, n),
        smile=g.uniform(-0.3, 1.0, n),
        mouth_open=g.random(n) ** 3 * 0.8,
        eye_open=np.where(g.random(n) < 0.05, 0.15, g.uniform(0.65, 1.05, n)),
        gaze=0.2 * g.standard_normal(n),
        surprise=g.uniform(0.0, 1.0, n) ** 2,
        bg1=g.random((n, 3)),
        bg2=g.random((n, 3)),
        bg_angle=g.uniform(0.0, 2 * np.pi, n),
        clothes=g.random((n, 3)),
    )
    return age, {k: v.astype(np.float32) for k, v in p.items()}


def _utk_race(tone: Array, g: np.random.Generator) -> Array:
    other = np.where(g.random(tone.shape[0]) < 0.6, 2, 4)
    race = np.where(tone < 0.30, 0, other)
    race = np.where(tone >= 0.55, 3, race)
    return np.where(tone >= 0.75, 1, race)


def generate_faces(config: SynthFacesConfig, *, bins: AgeBins | None = None) -> SynthFaces:
    """Generate a data set in memory.

    Args:
        config: how many people, images, what size, which ages, which seed.
        bins: age groups for the labels (default :class:`AgeBins`, 10 groups).

    Returns:
        A :class:`SynthFaces` whose rows are grouped by subject; images uint8 ``[n, 3, S, S]``.
    """
    age_bins = bins if bins is not None else AgeBins()
    g = np.random.Generator(np.random.PCG64(config.seed))
    traits = _subject_traits(config, g)
    lo, hi = config.images_per_subject
    counts = g.integers(lo, hi + 1, config.n_subjects)
    subj = np.repeat(np.arange(config.n_subjects), counts)
    ages, params = _image_params(config, traits, subj, g)
    races = _utk_race(traits["tone"], g)
    size = config.image_size
    step = max(1, _CHUNK_PIXELS // (size * size))
    pixels = np.empty((subj.shape[0], 3, size, size), dtype=np.uint8)
    for i, start in enumerate(range(0, subj.shape[0], step)):
        chunk = {k: v[start : start + step] for k, v in params.items()}
        rng = np.random.Generator(np.random.PCG64([config.seed, i]))
        pixels[start : start + step] = render_faces(chunk, image_size=size, rng=rng)
    ages_t = torch.from_numpy(ages.astype(np.float32))
    subjects = tuple(subject_id_for(i) for i in range(config.n_subjects))
    rows = subj.tolist()
    data = FaceTensors(
        images=torch.from_numpy(pixels),
        labels=age_bins.labels_for(ages_t),
        ages=ages_t,
        example_ids=tuple(_example_id(config.seed, r) for r in range(len(rows))),
        subject_ids=tuple(subjects[s] for s in rows),
    )
    return SynthFaces(
        data=data,
        subject_index=torch.from_numpy(subj.astype(np.int64)),
        subjects=subjects,
        traits={k: torch.from_numpy(v.astype(np.float32)) for k, v in traits.items()},
        genders=torch.from_numpy(traits["female"].astype(np.int64)),
        races=torch.from_numpy(races.astype(np.int64)),
        config=config,
    )


class WrittenFaces(BaseModel):
    """Where :func:`write_faces` put a data set."""

    model_config = ConfigDict(frozen=True)

    out_dir: Path
    manifest_path: Path
    n_images: int
    image_format: Literal["png", "jpeg"]


def utkface_name(*, age: int, gender: int, race: int, row: int) -> str:
    """A UTKFace-style file name ``{age}_{gender}_{race}_{timestamp}.jpg.chip.jpg`` (17-digit timestamp
    derived from ``row``, so names are unique within a data set)."""
    return f"{age}_{gender}_{race}_2017{row:013d}.jpg.chip.jpg"


def write_faces(
    faces: SynthFaces,
    out_dir: str | os.PathLike[str],
    *,
    utkface_names: bool = False,
    split: str | Mapping[str, str] = "train",
    manifest_name: str = "manifest.csv",
    jpeg_quality: int = 95,
) -> WrittenFaces:
    """Write images and a lineage-format CSV manifest (``example_id,subject_id,path,age,split``).

    Args:
        faces: the generated data set.
        out_dir: target directory (created); images go to ``out_dir/images/``.
        utkface_names: name files ``{age}_{gender}_{race}_{timestamp}.jpg.chip.jpg`` and write JPEG
            (as UTKFace does); otherwise ``<example_id>.png`` (lossless PNG).
        split: one split name for every row, or example id -> split name (every row must be covered).
        manifest_name: manifest file name inside ``out_dir``.
        jpeg_quality: JPEG quality for UTKFace-style names.

    Returns:
        The paths written. ``path`` in the manifest is relative to the manifest's directory.

    Raises:
        InputError: ``split`` is a mapping that misses some example ids.
    """
    data = faces.data
    if not isinstance(split, str):
        missing = [eid for eid in data.example_ids if eid not in split]
        if missing:
            raise InputError(
                f"The 'split' parameter must give a split for every example id. "
                f"Got none for {len(missing)} of them (first: {missing[:3]!r})."
            )
    root = Path(out_dir)
    image_dir = root / "images"
    image_dir.mkdir(parents=True, exist_ok=True)
    pixels = data.images.permute(0, 2, 3, 1).contiguous().numpy()
    ages = data.ages.round().long().tolist()
    subjects = faces.subject_index.tolist()
    genders, races = faces.genders.tolist(), faces.races.tolist()
    subject_ids = (
        data.subject_ids if data.subject_ids is not None else tuple(faces.subjects[s] for s in subjects)
    )
    rows = []
    for i, eid in enumerate(data.example_ids):
        if utkface_names:
            s_idx = subjects[i]
            name = utkface_name(age=ages[i], gender=genders[s_idx], race=races[s_idx], row=i)
            Image.fromarray(np.ascontiguousarray(pixels[i])).save(
                image_dir / name, format="JPEG", quality=jpeg_quality, subsampling=0
            )
        else:
            name = f"{eid}.png"
            Image.fromarray(np.ascontiguousarray(pixels[i])).save(image_dir / name, format="PNG")
        part = split if isinstance(split, str) else split[eid]
        rows.append((eid, subject_ids[i], f"images/{name}", ages[i], part))
    manifest = root / manifest_name
    with atomic_writer(manifest, text=True) as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(MANIFEST_COLUMNS)
        writer.writerows(rows)
    return WrittenFaces(
        out_dir=root,
        manifest_path=manifest,
        n_images=len(rows),
        image_format="jpeg" if utkface_names else "png",
    )
