"""Exporting the audit log to one file, and verifying such a file offline (no database).

The export is JSON lines, in this order::

    {"kind": "head", "format": "deletion-sdk-audit-export/v1", "origin", "tree_size", "chain_hash"}
    {"kind": "entry", "index", "leaf_hash", "chain_hash", "created_at", "event"}       one per entry
    {"kind": "checkpoint", "tree_size", "root_hash", "key_id", "note"}                one per checkpoint
    {"kind": "witness", "tree_size", "root_hash", "key_id", "note", "witnessed_at"}   the witness's lines
    {"kind": "key", "key_id", "public_key", "valid_from", "valid_until", "last_tree_size"}   the keyring

``event`` is the event object; its RFC 8785 bytes are the leaf's data. :func:`verify_export` runs the very
checks of :func:`~deletion_sdk.audit.verify.verify_audit_log` over the file: every leaf, sequence number
and chain hash, the tree, every checkpoint's signature (by the keys the auditor trusts, never by keys the
file names) and root, the witness's checkpoints, and any certificates or witness the auditor holds. An
edited, dropped, inserted or reordered entry fails and is named.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from deletion_sdk._fs import atomic_writer
from deletion_sdk.attest.jcs import canonical_json
from deletion_sdk.attest.keyring import Keyring, KeyringEntry
from deletion_sdk.audit.checkpoint import DEFAULT_ORIGIN
from deletion_sdk.audit.store import AuditHead, CheckpointRecord
from deletion_sdk.audit.verify import AuditVerification, PublicKeys, verify_audit_log
from deletion_sdk.audit.witness import WitnessedCheckpoint, WitnessStore
from deletion_sdk.errors import AuditLogError, InputError

if TYPE_CHECKING:
    from deletion_sdk.audit.log import AuditLog

__all__ = ["EXPORT_FORMAT", "ExportFile", "export_log", "verify_export"]

EXPORT_FORMAT = "deletion-sdk-audit-export/v1"
_COMPACT = {"ensure_ascii": False, "separators": (",", ":")}


def _reason(error: Exception) -> str:
    """One line saying what was wrong (a pydantic error names its first field and problem)."""
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc']) or 'value'}: {first['msg']}"
    if isinstance(error, KeyError):
        return f"missing field {error}"
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _line(obj: dict[str, Any]) -> str:
    return json.dumps(obj, **_COMPACT) + "\n"  # type: ignore[arg-type]


def export_log(log: AuditLog, path: Path | str) -> int:
    """Write ``log`` with its checkpoints, its witness and its keyring to ``path`` (atomically).

    Returns:
        The number of entries written.
    """
    store = log.store
    count = 0
    with atomic_writer(path, text=True) as f, store.snapshot() as s:
        head = store.head(session=s)
        f.write(
            _line(
                {
                    "kind": "head",
                    "format": EXPORT_FORMAT,
                    "origin": log.origin,
                    "tree_size": head.size,
                    "chain_hash": head.chain_hash,
                }
            )
        )
        for batch in store.iter_rows(with_created_at=True, stop=head.size, session=s):
            for index, event, leaf, chain, created_at in batch:
                line = {
                    "kind": "entry",
                    "index": int(index),
                    "leaf_hash": leaf,
                    "chain_hash": chain,
                    "created_at": created_at.isoformat() if created_at else None,
                    "event": json.loads(event),
                }
                f.write(_line(line))
                count += 1
        for cp in store.checkpoints(session=s):
            line = {
                "kind": "checkpoint",
                "tree_size": cp.tree_size,
                "root_hash": cp.root_hash,
                "key_id": cp.key_id,
                "note": cp.note,
            }
            f.write(_line(line))
        if log.witness is not None:
            for w in log.witness.read():
                f.write(_line({"kind": "witness", **w.model_dump(mode="json")}))
        if log.keyring is not None:
            for k in log.keyring.keys:
                f.write(_line({"kind": "key", **k.model_dump(mode="json")}))
    return count


class ExportFile:
    """An exported log read as an audit store (read-only), so the usual verifier runs over it.

    Args:
        path: the export file.

    Raises:
        InputError: the file cannot be read or is not an export (names the line).
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._head: dict[str, Any] | None = None
        self._checkpoints: list[CheckpointRecord] = []
        self.witness: list[WitnessedCheckpoint] = []
        self.keys: list[KeyringEntry] = []
        for number, obj in self._lines():
            kind = obj.get("kind")
            try:
                if kind == "head":
                    if number != 1 or obj.get("format") != EXPORT_FORMAT:
                        raise ValueError(f"the head must be line 1 with format {EXPORT_FORMAT!r}")
                    self._head = obj
                elif kind == "checkpoint":
                    self._checkpoints.append(
                        CheckpointRecord(
                            int(obj["tree_size"]),
                            str(obj["root_hash"]),
                            str(obj["note"]),
                            str(obj["key_id"]),
                            None,  # type: ignore[arg-type]
                        )
                    )
                elif kind == "witness":
                    self.witness.append(
                        WitnessedCheckpoint.model_validate({k: v for k, v in obj.items() if k != "kind"})
                    )
                elif kind == "key":
                    self.keys.append(
                        KeyringEntry.model_validate({k: v for k, v in obj.items() if k != "kind"})
                    )
                elif kind != "entry":
                    raise ValueError(f"unknown line kind {kind!r}")
            except (KeyError, TypeError, ValueError, ValidationError) as e:
                raise InputError(f"{self.path} line {number}: not an audit export line ({_reason(e)})") from e
        if self._head is None:
            raise InputError(f"{self.path} is not an audit export: line 1 must be its head")
        self._checkpoints.sort(key=lambda c: c.tree_size)

    @property
    def origin(self) -> str:
        return str(self._head["origin"]) if self._head else DEFAULT_ORIGIN

    def _lines(self) -> Iterator[tuple[int, dict[str, Any]]]:
        try:
            f = self.path.open("rb")  # decoded line by line: invalid UTF-8 is one line's fault, never a crash
        except OSError as e:
            raise InputError(f"cannot read the audit export {self.path}: {e.strerror or e}") from e
        with f:
            for number, line in enumerate(f, start=1):
                try:
                    obj = json.loads(line.decode("utf-8"))
                except (ValueError, RecursionError) as e:  # not UTF-8 or JSON, or nested too deeply
                    raise InputError(f"{self.path} line {number}: not JSON") from e
                if not isinstance(obj, dict):
                    raise InputError(f"{self.path} line {number}: not a JSON object")
                yield number, obj

    # -- the AuditStore methods the verifier uses ------------------------------------------------------

    def snapshot(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def head(self, *, session: Any = None) -> AuditHead:
        head = self._head or {}
        try:
            return AuditHead(size=int(head["tree_size"]), chain_hash=str(head["chain_hash"]))
        except (KeyError, TypeError, ValueError) as e:
            raise InputError(f"{self.path} line 1: the head has no tree size and chain hash") from e

    def checkpoints(self, *, since: int = -1, session: Any = None) -> list[CheckpointRecord]:
        return [c for c in self._checkpoints if c.tree_size > since]

    def iter_rows(
        self, *, batch_size: int = 50_000, session: Any = None, **_: Any
    ) -> Iterator[Sequence[Any]]:
        batch: list[tuple[int, str, str, str]] = []
        for number, obj in self._lines():
            if obj.get("kind") != "entry":
                continue
            try:
                row = (
                    int(obj["index"]),
                    canonical_json(obj["event"]).decode("utf-8"),
                    str(obj["leaf_hash"]),
                    str(obj["chain_hash"]),
                )
            except (KeyError, TypeError, ValueError) as e:
                raise AuditLogError(f"{self.path} line {number}: a malformed entry ({_reason(e)})") from e
            batch.append(row)
            if len(batch) >= batch_size:
                yield batch
                batch = []
        if batch:
            yield batch


def verify_export(
    path: Path | str,
    *,
    public_keys: PublicKeys,
    keyring: Keyring | None = None,
    witness: WitnessStore | None = None,
    certificates: Iterable[Path | str] | Path | str | None = None,
) -> AuditVerification:
    """Verify an exported log offline, with the keys the auditor trusts.

    Args:
        path: the export file.
        public_keys: the trusted log key(s); the keys listed inside the file are not trusted by themselves.
        keyring: a keyring the auditor trusts (its keys are trusted within their validity).
        witness: a witness store the auditor keeps (default: the witness lines of the export).
        certificates: certificate files (or a directory) whose embedded checkpoints must match.

    Raises:
        AuditLogError: the first problem found, naming the first bad entry.
        InputError: the file is not an export.
        ConfigurationError: checkpoints exist but no key was given.
    """
    export = ExportFile(path)
    return verify_audit_log(
        export,  # type: ignore[arg-type]
        public_keys=public_keys,
        origin=export.origin,
        keyring=keyring,
        witness=witness if witness is not None else (export.witness or None),
        certificates=certificates,
    )
