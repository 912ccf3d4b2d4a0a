"""The witness store: every signed checkpoint, also appended to a file outside the ledger database.

An operator (or an attacker) with write access to the database can rewrite every audit row, hashes
included, and delete the ``audit_checkpoints`` rows; a checkpoint kept elsewhere still pins the tree it
signed. The witness is a JSON-lines file, one signed checkpoint per line, only ever appended to::

    {"tree_size": 120, "root_hash": "<hex>", "key_id": "<hex>", "note": "<signed note>",
     "witnessed_at": "2026-12-02T05:58:10Z"}

By default it is ``HOME/witness/checkpoints.jsonl``; ``DELETION_SDK_WITNESS_DIR`` (``Settings.witness_dir``)
moves it to a directory an auditor controls (a mounted share, a write-once bucket synced from it).

Lines are written after the checkpoint's transaction commits, so a rolled-back checkpoint never reaches
the witness; a crash between the commit and the write leaves the newest checkpoint unwitnessed, and the
next signing appends every ledger checkpoint the witness lacks first. A torn line (a crash in the middle
of a write: a JSON prefix that does not end in ``}``) is skipped, and the next append starts on a new line;
any other malformed line fails closed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from deletion_sdk.errors import AuditLogError
from deletion_sdk.ledger._types import utcnow
from deletion_sdk.settings import Settings

__all__ = ["WITNESS_FILE", "WitnessStore", "WitnessedCheckpoint", "witness_path"]

WITNESS_FILE = "checkpoints.jsonl"


class WitnessedCheckpoint(BaseModel):
    """One line of the witness: a signed checkpoint and when it was witnessed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tree_size: int
    root_hash: str
    key_id: str
    note: str
    witnessed_at: AwareDatetime


def witness_path(settings: Settings) -> Path:
    """The witness file of a deployment: ``WITNESS_DIR/checkpoints.jsonl`` or ``HOME/witness/…``."""
    if settings.witness_dir is not None:
        return Path(settings.witness_dir) / WITNESS_FILE
    return settings.layout.witness


class WitnessStore:
    """An append-only JSON-lines file of signed checkpoints.

    Args:
        path: the file (created with its directory on the first append).
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"WitnessStore({str(self.path)!r})"

    def append(self, checkpoints: Iterable[tuple[int, str, str, str]], *, at: datetime | None = None) -> int:
        """Append ``(tree_size, root_hash, key_id, note)`` checkpoints; fsync before returning.

        Returns:
            The number of lines written.
        """
        when = at or utcnow()
        lines = [
            WitnessedCheckpoint(
                tree_size=size, root_hash=root, key_id=key_id, note=note, witnessed_at=when
            ).model_dump_json()
            + "\n"
            for size, root, key_id, note in checkpoints
        ]
        if not lines:
            return 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            with open(fd, "a", encoding="utf-8", closefd=False) as f:
                if f.tell() > 0 and not self._ends_with_newline():
                    f.write("\n")  # close a torn line left by a crash so the next line stands alone
                f.write("".join(lines))
                f.flush()
                os.fsync(fd)
        finally:
            os.close(fd)
        return len(lines)

    def _ends_with_newline(self) -> bool:
        with self.path.open("rb") as f:
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"\n"

    def read(self) -> list[WitnessedCheckpoint]:
        """Every witnessed checkpoint, in file order (empty when the file does not exist).

        Raises:
            AuditLogError: a line (other than a torn last one) is not a witnessed checkpoint.
        """
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as e:
            raise AuditLogError(f"cannot read the witness {self.path}: {e}") from e
        out = []
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                out.append(WitnessedCheckpoint.model_validate(json.loads(line)))
            except (ValueError, ValidationError) as e:
                if not line.rstrip().endswith("}"):
                    continue  # torn by a crash mid-write: the checkpoint is still in the ledger
                raise AuditLogError(
                    f"the witness {self.path} line {number} is not a witnessed checkpoint"
                ) from e
        return out

    def latest(self, *, tail_bytes: int = 1 << 16) -> WitnessedCheckpoint | None:
        """The witnessed checkpoint of the largest tree, or None.

        Reads only the file's last ``tail_bytes`` (lines are appended in signing order, give or take
        concurrent signers), so signing stays O(1) in the number of checkpoints; the whole file when it
        is smaller.
        """
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return None
        if size <= tail_bytes:
            items = self.read()
        else:
            with self.path.open("rb") as f:
                f.seek(size - tail_bytes)
                tail = f.read().decode("utf-8", errors="replace").split("\n")[1:]  # first line may be cut
            items = []
            for line in tail:
                if line.strip():
                    try:
                        items.append(WitnessedCheckpoint.model_validate(json.loads(line)))
                    except (ValueError, ValidationError) as e:
                        if line.rstrip().endswith("}"):
                            raise AuditLogError(f"the witness {self.path} ends with a malformed line") from e
        return max(items, key=lambda c: c.tree_size) if items else None
