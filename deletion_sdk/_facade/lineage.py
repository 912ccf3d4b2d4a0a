"""Facade operations on lineage: datasets and the forget sets resolved from them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from deletion_sdk._facade.base import FacadeBase, text_arg
from deletion_sdk.errors import InputError
from deletion_sdk.ledger import lineage
from deletion_sdk.ledger.lineage import ExampleInput
from deletion_sdk.ledger.records import DatasetRecord, ForgetSetManifest

__all__ = ["LineageOperations"]


class LineageOperations(FacadeBase):
    """Registering datasets and resolving forget sets."""

    def register_dataset(
        self,
        *,
        name: str,
        manifest: Path | str | None = None,
        examples: Iterable[ExampleInput] | None = None,
    ) -> DatasetRecord:
        """Register a dataset from a CSV manifest, or from in-memory examples (exactly one of the two).

        Raises:
            ManifestError: malformed manifest or records (the message names the line or record).
            ConflictError: the name is taken.
            SuppressedSubjectError: some examples belong to erased subjects; nothing is registered.
        """
        name = text_arg(name, "name", what="a non-empty dataset name")
        if (manifest is None) == (examples is None):
            raise InputError("register_dataset needs exactly one of 'manifest' (a CSV path) or 'examples'.")
        if manifest is not None:
            parsed = lineage.read_manifest(Path(manifest), subject_key=self.subject_key)
            return lineage.register_examples(
                self.ledger,
                name=name,
                records=parsed.examples,
                root_dir=parsed.root_dir,
                manifest_digest=parsed.digest,
            )
        return lineage.register_examples(self.ledger, name=name, records=examples or ())

    def get_dataset(self, *, dataset: str | int) -> DatasetRecord:
        """A dataset by name or id (NotFoundError when there is none)."""
        with self.ledger.session(write=False) as session:
            return lineage.get_dataset(session, dataset)

    def list_datasets(self) -> tuple[DatasetRecord, ...]:
        """Every registered dataset."""
        with self.ledger.session(write=False) as session:
            return lineage.list_datasets(session)

    def resolve_forget_set(
        self,
        *,
        request_ids: Sequence[str],
        dataset: str | int | None = None,
        split: str | None = None,
    ) -> ForgetSetManifest:
        """The examples of these requests' subjects, as a sorted manifest with its Merkle root.

        Args:
            request_ids: the requests to resolve.
            dataset: restrict to one dataset (name or id).
            split: restrict to one split (``train`` for a model's training data).
        """
        if isinstance(request_ids, str) or not isinstance(request_ids, Sequence):
            raise InputError(
                f"The 'request_ids' parameter must be a sequence of request ids. Got {request_ids!r} instead."
            )
        with self.ledger.session(write=False) as session:
            return lineage.resolve_forget_set(
                session, request_ids=list(request_ids), dataset=dataset, split=split
            )
