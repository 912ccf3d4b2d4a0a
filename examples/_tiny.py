"""Shared by the examples: a tiny synthetic face dataset written to disk (seconds on a laptop CPU)."""

from __future__ import annotations

from pathlib import Path

from deletion_sdk.data import SynthFacesConfig, generate_faces, subject_disjoint_split, write_faces


def tiny_faces(out_dir: Path, *, n_subjects: int = 80, seed: int = 0) -> tuple[Path, list[str]]:
    """Write synthetic faces with a train/holdout/test split; return the manifest and the training people."""
    faces = generate_faces(SynthFacesConfig(n_subjects=n_subjects, image_size=16, seed=seed))
    parts = subject_disjoint_split(
        faces.data, fractions={"train": 0.6, "holdout": 0.2, "test": 0.2}, seed=seed
    )
    split = {eid: name for name, part in parts.items() for eid in part.example_ids}
    written = write_faces(faces, out_dir, split=split)
    return written.manifest_path, sorted(set(parts["train"].subject_ids or ()))
