"""``deletion-sdk datasets register|ingest|rotate-master-key|show|list|synth``."""

from __future__ import annotations

from pathlib import Path

import typer

from deletion_sdk.cli._common import JsonOption, emit, emit_list, shorten, unknown_name
from deletion_sdk.cli.core import open_sdk
from deletion_sdk.errors import NotFoundError
from deletion_sdk.ledger.records import DatasetRecord
from deletion_sdk.sdk import DeletionSDK

__all__ = ["register"]


def known_dataset(sdk: DeletionSDK, dataset: str) -> DatasetRecord:
    """The dataset named (or numbered) ``dataset``; unknown, the error lists the registered names."""
    try:
        return sdk.get_dataset(dataset=dataset)
    except NotFoundError:
        names = [d.name for d in sdk.list_datasets()]
        hint = " (register one with `deletion-sdk datasets register`)"
        raise unknown_name("dataset", dataset, names, hint=hint) from None


def _print(record: DatasetRecord) -> None:
    for key, value in record.model_dump(mode="json").items():
        print(f"{key:16} {value}")


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Datasets and their examples' owners (lineage).", no_args_is_help=True)
    app.add_typer(group, name="datasets")

    @group.command("register")
    def register_(
        ctx: typer.Context,
        name: str = typer.Option(..., "--name", help="Unique dataset name."),
        manifest: Path = typer.Option(
            ...,
            "--manifest",
            help="CSV manifest: example_id,subject_id,path,age[,split] (paths relative to it).",
        ),
        as_json: bool = JsonOption,
    ) -> None:
        """Register a dataset snapshot from a CSV manifest (file digests recorded, subject ids hashed)."""
        with open_sdk(ctx) as sdk:
            record = sdk.register_dataset(name=name, manifest=manifest)
        emit(record, as_json=as_json, human=lambda: _print(record))

    @group.command("ingest")
    def ingest(
        ctx: typer.Context,
        dataset: str = typer.Argument(..., help="Registered dataset name or id."),
        delete_source: bool = typer.Option(
            False, "--delete-source", help="Delete the plaintext originals once every sealed copy decrypts."
        ),
        as_json: bool = JsonOption,
    ) -> None:
        """Copy a dataset into HOME/vault, each person's files sealed under their own data key, so that
        erasing them destroys the key (crypto-shredding): every copy, backups included, turns unreadable."""
        from deletion_sdk.erasure.crypto_ingest import ingest_dataset

        with open_sdk(ctx) as sdk:
            result = ingest_dataset(
                sdk.ledger,
                sdk.layout,
                dataset=dataset,
                master_key=sdk.context.master_key,
                delete_source=delete_source,
            )

        def human() -> None:
            made = "created" if result.master_key_created else "existing"
            print(
                f"sealed {result.n_sealed} examples of {result.n_subjects} people into {result.vault} "
                f"({result.n_keys_created} new data keys; {result.n_skipped} erased examples skipped; "
                f"master key {result.master_key_fingerprint}, {made})"
            )
            if result.source_deleted:
                print("plaintext originals deleted")

        emit(result, as_json=as_json, human=human)

    @group.command("rotate-master-key")
    def rotate_master_key_(
        ctx: typer.Context,
        new_key_file: Path | None = typer.Option(
            None,
            "--new-key-file",
            help="File holding the new master key as hex (needed when DELETION_SDK_MASTER_KEY is set).",
        ),
        as_json: bool = JsonOption,
    ) -> None:
        """Rewrap every data key under a new master key and retire the old one, so that ledger backups
        made before an erasure cannot unwrap the erased people's keys."""
        from deletion_sdk.erasure.crypto_rotate import rotate_master_key
        from deletion_sdk.errors import ConfigurationError

        new: str | None = None
        if new_key_file is not None:
            try:
                new = new_key_file.read_text(encoding="ascii").strip()
            except (OSError, UnicodeDecodeError) as e:
                raise ConfigurationError(f"cannot read the new master key from {new_key_file}: {e}") from e
        with open_sdk(ctx) as sdk:
            result = rotate_master_key(sdk.ledger, sdk.layout, current=sdk.context.master_key, new=new)

        def human() -> None:
            where = result.key_file or "DELETION_SDK_MASTER_KEY: store the new key there now"
            print(
                f"rewrapped {result.n_keys} data keys: master key {result.from_fingerprint} -> "
                f"{result.to_fingerprint} ({where})"
            )

        emit(result, as_json=as_json, human=human)

    @group.command("show")
    def show(
        ctx: typer.Context,
        dataset: str = typer.Argument(..., help="Dataset name or id."),
        as_json: bool = JsonOption,
    ) -> None:
        """Show one dataset."""
        with open_sdk(ctx, read_only=True) as sdk:
            record = known_dataset(sdk, dataset)
        emit(record, as_json=as_json, human=lambda: _print(record))

    @group.command("list")
    def list_(ctx: typer.Context, as_json: bool = JsonOption) -> None:
        """List registered datasets."""
        with open_sdk(ctx, read_only=True) as sdk:
            records = sdk.list_datasets()
        emit_list(
            records,
            as_json=as_json,
            columns=("id", "name", "examples", "subjects", "splits", "examples_root"),
            row=lambda r: (
                r.dataset_id,
                r.name,
                r.n_examples,
                r.n_subjects,
                ", ".join(f"{k}={v}" for k, v in r.splits.items()),
                shorten(r.examples_root),
            ),
            noun="dataset",
            whole=("name",),
        )

    @group.command("synth")
    def synth(
        out: Path = typer.Option(..., "--out", help="Directory for images/, manifest.csv and requests.csv."),
        subjects: int = typer.Option(200, "--subjects", min=10, help="Number of synthetic people."),
        image_size: int = typer.Option(32, "--image-size", min=16, help="Image side in pixels."),
        requests: int = typer.Option(5, "--requests", min=0, help="Sample deletion requests to write."),
        policy: str = typer.Option("gdpr-art17", "--policy", help="Policy of the sample requests."),
        utkface_names: bool = typer.Option(False, "--utkface-names", help="UTKFace-style JPEG file names."),
        seed: int = typer.Option(0, "--seed", min=0),
        as_json: bool = JsonOption,
    ) -> None:
        """Generate synthetic faces with a lineage manifest (train/holdout/test by person) and a sample
        requests.csv naming people from the training split (plus one who is in no data)."""
        import csv
        import random

        from deletion_sdk.data import SynthFacesConfig, generate_faces, subject_disjoint_split, write_faces

        faces = generate_faces(SynthFacesConfig(n_subjects=subjects, image_size=image_size, seed=seed))
        parts = subject_disjoint_split(
            faces.data, fractions={"train": 0.6, "holdout": 0.2, "test": 0.2}, seed=seed
        )
        split = {eid: name for name, part in parts.items() for eid in part.example_ids}
        written = write_faces(faces, out, split=split, utkface_names=utkface_names)
        people = sorted(set(parts["train"].subject_ids or ()))
        chosen = random.Random(seed).sample(people, min(requests, len(people)))
        requests_path = out / "requests.csv"
        with requests_path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["subject", "policy"])
            writer.writerows([(p, policy) for p in [*chosen, "never.seen@example.org"][: requests + 1]])
        doc = {
            "manifest": str(written.manifest_path),
            "requests": str(requests_path),
            "images": written.n_images,
            "subjects": subjects,
        }
        emit(
            doc,
            as_json=as_json,
            human=lambda: print(
                f"wrote {written.n_images} images of {subjects} people: {written.manifest_path}; "
                f"{len(chosen) + 1} sample requests: {requests_path}"
            ),
        )
