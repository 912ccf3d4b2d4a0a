"""Generation speed of the synthetic face generator.

    .venv/bin/python benchmarks/synthfaces_speed.py --json
    .venv/bin/python benchmarks/synthfaces_speed.py --n-images 20000 --image-size 64 --write /tmp/faces

Generates at least ``--n-images`` images (subjects have 1-8 images, so the count is rounded up to
whole subjects) and reports wall time, process CPU time, images per second and the machine's load
average (the benchmark machine may be shared; CPU time is the fairer figure then).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from deletion_sdk.data import SynthFacesConfig, generate_faces, write_faces


def run(
    *, n_images: int, image_size: int, seed: int, write: Path | None, utkface_names: bool
) -> dict[str, Any]:
    n_subjects = math.ceil(n_images / 4.5)  # mean of 1..8 images per subject
    config = SynthFacesConfig(n_subjects=n_subjects, image_size=image_size, seed=seed)
    load_before = os.getloadavg()
    wall, cpu = time.perf_counter(), time.process_time()
    faces = generate_faces(config)
    while len(faces) < n_images:  # rare: the draw fell short; add subjects
        n_subjects += math.ceil((n_images - len(faces)) / 4.5) + 1
        config = config.model_copy(update={"n_subjects": n_subjects})
        faces = generate_faces(config)
    gen_wall, gen_cpu = time.perf_counter() - wall, time.process_time() - cpu
    result: dict[str, Any] = {
        "benchmark": "synthfaces_speed",
        "n_images": len(faces),
        "n_subjects": n_subjects,
        "image_size": image_size,
        "generate_wall_s": round(gen_wall, 3),
        "generate_cpu_s": round(gen_cpu, 3),
        "images_per_s": round(len(faces) / gen_wall, 1),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "machine": f"{platform.machine()} {platform.processor() or platform.platform()}",
    }
    if write is not None:
        wall = time.perf_counter()
        written = write_faces(faces, write, utkface_names=utkface_names)
        result["write_wall_s"] = round(time.perf_counter() - wall, 3)
        result["write_format"] = written.image_format
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n-images", type=int, default=20_000)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--write", type=Path, default=None, help="also write PNGs + manifest here ('tmp': a temp dir)"
    )
    parser.add_argument("--utkface-names", action="store_true", help="with --write: UTKFace-style JPEG names")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    if args.write is not None and str(args.write) == "tmp":
        with tempfile.TemporaryDirectory() as tmp:
            result = run(
                n_images=args.n_images, image_size=args.image_size, seed=args.seed, write=Path(tmp),
                utkface_names=args.utkface_names,
            )  # fmt: skip
    else:
        result = run(
            n_images=args.n_images, image_size=args.image_size, seed=args.seed, write=args.write,
            utkface_names=args.utkface_names,
        )  # fmt: skip
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>22}: {value}")


if __name__ == "__main__":
    main()
