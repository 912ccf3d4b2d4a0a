"""What crypto-shredding costs the loader: images per second, plaintext files vs the encrypted vault.

Writes synthetic faces (PNG) and a manifest to a temporary directory, registers them in a temporary HOME
(SQLite ledger), ingests them into the vault (one AES-256-GCM data key per person, wrapped by the master
key), then loads the same examples through both stores with the same decoder
(:func:`deletion_sdk.data.loaders.load_from_store`):

* ``plaintext`` - the built-in ``local`` store: read the file, check its SHA-256, decode;
* ``encrypted`` - the ``encrypted`` store: read the sealed file, unwrap the owners' keys (one ledger query per
  load), AES-GCM decrypt and authenticate, check the SHA-256, decode.

Each load runs ``--repeats`` times (a fresh store each time, so key unwrapping is counted); the median is
reported, together with decryption alone (no decoding) and the one-off ingest.

    .venv/bin/python benchmarks/crypto_loader.py --json
    nice .venv/bin/python benchmarks/crypto_loader.py --n-subjects 400 --image-size 32 --repeats 3 --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from deletion_sdk import DeletionSDK
from deletion_sdk.data import SynthFacesConfig, generate_faces, write_faces
from deletion_sdk.data.loaders import load_from_store
from deletion_sdk.erasure.crypto import EncryptedStore
from deletion_sdk.erasure.crypto_ingest import ingest_dataset
from deletion_sdk.erasure.records import StoredExample
from deletion_sdk.erasure.store import LocalFileStore, StoreContext
from deletion_sdk.ledger.lineage import ExampleInput, dataset_examples
from deletion_sdk.logging import configure_logging


def _median_s(
    fns: dict[str, Callable[[], object]], repeats: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Median wall and process-CPU seconds of each function, runs interleaved so a busy machine slows all
    alike (CPU time is the fairer figure on a shared machine: other processes do not count in it)."""
    wall: dict[str, list[float]] = {name: [] for name in fns}
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return (
        {name: statistics.median(t) for name, t in wall.items()},
        {name: statistics.median(t) for name, t in cpu.items()},
    )


def _stored(r: ExampleInput) -> StoredExample:
    return StoredExample(
        example_id=r.example_id, subject_ref=r.subject_ref, content_digest=r.content_digest, path=r.path
    )


def run(*, n_subjects: int, image_size: int, repeats: int, workers: int, seed: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        faces = generate_faces(SynthFacesConfig(n_subjects=n_subjects, image_size=image_size, seed=seed))
        written = write_faces(faces, root / "data")
        with DeletionSDK.open(home=root / "home") as sdk:
            sdk.register_dataset(name="faces", manifest=written.manifest_path)
            with sdk.ledger.session(write=False) as session:
                rows = dataset_examples(session, dataset="faces")
            start = time.perf_counter()
            ingest = ingest_dataset(sdk.ledger, sdk.layout, dataset="faces")
            ingest_s = time.perf_counter() - start
            context = StoreContext(root_dir=root / "data", home=sdk.layout.home, ledger=sdk.ledger)
            stored = [_stored(r) for r in rows]

            def plaintext() -> None:
                store = LocalFileStore(context)
                load_from_store(
                    rows, lambda r: store.open_bytes(_stored(r)), image_size=image_size, workers=workers
                )

            def encrypted() -> None:
                store = EncryptedStore(context)
                store.prefetch(stored)
                load_from_store(
                    rows, lambda r: store.open_bytes(_stored(r)), image_size=image_size, workers=workers
                )

            def decrypt_only() -> None:
                store = EncryptedStore(context)
                store.prefetch(stored)
                for s in stored:
                    store.open_bytes(s)

            medians, cpu = _median_s(
                {"plaintext": plaintext, "encrypted": encrypted, "decrypt_only": decrypt_only}, repeats
            )
            plain_s, enc_s, dec_s = medians["plaintext"], medians["encrypted"], medians["decrypt_only"]
            mean_bytes = sum((root / "data" / str(r.path)).stat().st_size for r in rows) / len(rows)
    n = len(rows)
    return {
        "benchmark": "crypto_loader",
        "n_images": n,
        "n_subjects": n_subjects,
        "image_size": image_size,
        "workers": workers,
        "repeats": repeats,
        "plaintext_images_per_s": round(n / plain_s, 1),
        "encrypted_images_per_s": round(n / enc_s, 1),
        "encrypted_overhead_pct": round(100.0 * (enc_s - plain_s) / plain_s, 1),
        "decrypt_only_images_per_s": round(n / dec_s, 1),
        "plaintext_images_per_cpu_s": round(n / cpu["plaintext"], 1),
        "encrypted_images_per_cpu_s": round(n / cpu["encrypted"], 1),
        "encrypted_cpu_overhead_pct": round(
            100.0 * (cpu["encrypted"] - cpu["plaintext"]) / cpu["plaintext"], 1
        ),
        "decrypt_only_images_per_cpu_s": round(n / cpu["decrypt_only"], 1),
        "ingest_images_per_s": round(ingest.n_sealed / ingest_s, 1),
        "ingest_s": round(ingest_s, 3),
        "mean_png_bytes": round(mean_bytes),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "machine": f"{platform.machine()} {platform.processor() or platform.platform()}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--n-subjects", type=int, default=400, help="people (1-8 images each, ~4.5 on average)"
    )
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="threads reading and decoding")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    configure_logging(level="WARNING")
    result = run(
        n_subjects=args.n_subjects,
        image_size=args.image_size,
        repeats=args.repeats,
        workers=args.workers,
        seed=args.seed,
    )
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>28}: {value}")


if __name__ == "__main__":
    main()
