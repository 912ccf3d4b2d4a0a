"""Audit-log scale: append throughput on SQLite and full verification of a million-entry log.

Figures reported (all on the ledger given by ``--database-url``, default a fresh SQLite file in a
temporary directory, WAL mode, ``synchronous=FULL`` as the ledger configures it):

* ``append_commit_each`` - ``AuditLog.append`` with its own transaction per event (one fsync each);
* ``append_in_transaction`` - ``AuditLog.append`` called repeatedly inside one caller transaction
  (how the batch job records events beside its state changes);
* ``append_many`` - ``AuditLog.append_many`` in batches of ``--batch`` events per transaction;
* ``fill`` - filling the log to ``--entries`` entries with ``append_many`` (the same path, at scale);
* ``checkpoint_s`` - signing a checkpoint of the whole log (extends the previous signed tree: reads the
  O(log n) stored subtrees of its right edge and re-hashes every entry not yet signed - here almost all
  of them), and appends it to the witness file (fsync);
* ``checkpoint_incremental_s`` - the next checkpoint after 1,000 more events (the per-job cost; median of
  ``--repeats``);
* ``verify_s`` - ``verify_audit_log`` over the whole log: every leaf recomputed from its stored event
  bytes, sequence numbers and chain hashes checked, the tree rebuilt bottom-up, every checkpoint's
  signature and root checked;
* ``prove_s`` - one inclusion proof against the latest checkpoint (median over ``--repeats`` random
  entries; O(log n) stored subtree hashes, checked against the signed root);
* ``consistency_s`` - one consistency proof between the first and the latest checkpoint (median).

    python benchmarks/audit_scale.py --json
    python benchmarks/audit_scale.py --entries 100000 --database-url postgresql+psycopg://…

Timings on a shared machine are indicative only: each timed figure also has a ``*_cpu_s`` twin (this
process's CPU time), which other processes competing for the cores do not inflate.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from deletion_sdk.attest.keys import Ed25519Signer
from deletion_sdk.audit import AuditLog, NewEvent, verify_audit_log
from deletion_sdk.audit.witness import WitnessStore
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.logging import configure_logging

SUBJECT_REF = "ab" * 32


def _event(i: int) -> NewEvent:
    return NewEvent(
        type="request.status_changed",
        data={
            "request_id": f"req-{i:08d}",
            "subject_ref": SUBJECT_REF,
            "from": "verified",
            "to": "scheduled",
        },
        actor="batch-worker-1",
    )


def _rate(n: int, seconds: float) -> dict[str, float]:
    return {"events": n, "seconds": round(seconds, 3), "events_per_s": round(n / seconds, 1)}


def _median_s(samples: list[float]) -> float:
    return round(statistics.median(samples), 4)


def run(
    *,
    database_url: str,
    entries: int,
    batch: int,
    commit_each: int,
    in_transaction: int,
    witness: Path,
    repeats: int,
) -> dict[str, Any]:
    ledger = Ledger.open(database_url, create=True)
    signer = Ed25519Signer(Ed25519PrivateKey.generate())
    log = AuditLog(ledger, signer=signer, witness=WitnessStore(witness))
    results: dict[str, Any] = {"backend": ledger.engine.dialect.name, "url": ledger.url}

    t = time.perf_counter()
    for i in range(commit_each):
        log.append("request.received", {"request_id": f"c{i}", "subject_ref": SUBJECT_REF}, actor="intake")
    results["append_commit_each"] = _rate(commit_each, time.perf_counter() - t)

    t = time.perf_counter()
    with ledger.session() as session:
        for i in range(in_transaction):
            log.append("job.step", {"job_id": "bench", "step": i}, actor="batch", session=session)
    results["append_in_transaction"] = _rate(in_transaction, time.perf_counter() - t)

    t = time.perf_counter()
    n = 0
    for _ in range(5):
        log.append_many([_event(n + k) for k in range(batch)])
        n += batch
    results["append_many"] = {**_rate(n, time.perf_counter() - t), "batch": batch}

    first = log.checkpoint()  # an early checkpoint, so the final one is checked for consistency
    remaining = max(entries - log.size(), 0)
    t = time.perf_counter()
    done = 0
    while done < remaining:
        k = min(batch, remaining - done)
        log.append_many([_event(done + j) for j in range(k)])
        done += k
    results["fill"] = {**_rate(done, time.perf_counter() - t), "batch": batch}

    t = time.perf_counter()
    log.checkpoint()
    results["checkpoint_s"] = round(time.perf_counter() - t, 3)

    samples, cpu = [], []
    for _ in range(repeats):
        log.append_many([_event(j) for j in range(1000)])  # what one batch job adds before it certifies
        t, c = time.perf_counter(), time.process_time()
        latest = log.checkpoint()
        samples.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    results["checkpoint_incremental_s"] = _median_s(samples)
    results["checkpoint_incremental_cpu_s"] = _median_s(cpu)

    t, c = time.perf_counter(), time.process_time()
    verification = verify_audit_log(ledger, public_keys=signer.public_key, witness=WitnessStore(witness))
    results["verify_s"] = round(time.perf_counter() - t, 3)
    results["verify_cpu_s"] = round(time.process_time() - c, 3)
    results["verified_entries"] = verification.tree_size
    results["verify_entries_per_s"] = round(verification.tree_size / results["verify_s"], 1)
    results["checkpoints"] = [first.tree_size, latest.tree_size]
    results["witnessed_checkpoints"] = verification.witnessed_checkpoints

    rng = random.Random(0)
    samples, cpu = [], []
    for _ in range(repeats):
        index = rng.randrange(verification.tree_size)
        t, c = time.perf_counter(), time.process_time()
        proof = log.inclusion_proof(index)
        samples.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    results["prove_s"] = _median_s(samples)
    results["prove_cpu_s"] = _median_s(cpu)
    results["prove_max_s"] = round(max(samples), 4)
    results["proof_length"] = len(proof.proof)

    samples, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        consistency = log.consistency_proof(first.tree_size, new_size=latest.tree_size)
        samples.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    results["consistency_s"] = _median_s(samples)
    results["consistency_cpu_s"] = _median_s(cpu)
    results["consistency_proof_length"] = len(consistency.proof)
    if ledger.is_sqlite and ledger.engine.url.database:
        results["sqlite_file_mb"] = round(os.path.getsize(ledger.engine.url.database) / 2**20, 1)
    ledger.dispose()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file in a temp dir")
    parser.add_argument("--entries", type=int, default=1_000_000, help="log size to verify")
    parser.add_argument("--batch", type=int, default=10_000, help="events per append_many transaction")
    parser.add_argument("--commit-each", type=int, default=300, help="events appended one transaction each")
    parser.add_argument("--in-transaction", type=int, default=5_000, help="appends inside one transaction")
    parser.add_argument("--repeats", type=int, default=20, help="samples per proof/checkpoint timing")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    configure_logging(level="WARNING", json=True)

    with tempfile.TemporaryDirectory(prefix="audit-scale-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'ledger.db'}"
        results = run(
            database_url=url,
            entries=args.entries,
            batch=args.batch,
            commit_each=args.commit_each,
            in_transaction=args.in_transaction,
            witness=Path(tmp) / "witness" / "checkpoints.jsonl",
            repeats=args.repeats,
        )
    results["machine"] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }
    results["targets"] = {
        "append_events_per_s": 2000,
        "verify_1m_s": 30,
        "prove_s": 0.010,
        "checkpoint_incremental_s": 0.050,
        "consistency_s": 0.010,
    }
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for key, value in results.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
