"""Ledger throughput: batch intake, dataset registration and forget-set resolution, on SQLite and PostgreSQL.

    python benchmarks/ledger_throughput.py --json                 # the issue's sizes, both backends
    python benchmarks/ledger_throughput.py --quick --json         # small sizes (a smoke run)
    python benchmarks/ledger_throughput.py --backends sqlite --examples 200000

Figures (targets from the issue, 2-core CI machine):

* ``intake_requests_per_s`` — rows per second through ``import_requests`` of a CSV file (parse, hash,
  deadline, bulk insert with history): target >= 5,000.
* ``register_examples_per_s`` — in-memory examples (digests precomputed) per second through
  ``register_examples``, Merkle root included: target 1,000,000 in <= 60 s.
* ``resolve_10k_subjects_s`` — seconds to resolve the forget set of 10,000 requests (distinct subjects) among
  1,000,000 examples: target <= 2 s.

Wall-clock seconds are the figures; ``*_process_cpu_s`` (this process's CPU time; PostgreSQL's server work is
not included) and the load average help to read them on a shared machine.

PostgreSQL is used when ``--postgres-url`` or ``DELETION_SDK_TEST_POSTGRES_URL`` names a server; a scratch
database is created on it and dropped afterwards. Every run starts from an empty ledger.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from deletion_sdk.ledger import intake, lineage
from deletion_sdk.ledger.db import Ledger
from deletion_sdk.ledger.lineage import ExampleInput
from deletion_sdk.ledger.subjects import SubjectKey, subject_ref
from deletion_sdk.logging import configure_logging
from deletion_sdk.policy import load_policy

TARGETS = {"intake_requests_per_s": 5_000.0, "register_1m_examples_s": 60.0, "resolve_10k_subjects_s": 2.0}


def _write_requests_csv(path: Path, n: int) -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with path.open("w") as fh:
        fh.write("subject,policy,received_at,idempotency_key\n")
        for i in range(n):
            policy = "ccpa" if i % 3 == 0 else "gdpr-art17"
            received = (start + timedelta(seconds=i)).isoformat()
            key = f"ticket-{i}" if i % 2 == 0 else ""
            fh.write(f"intake-{i}@example.com,{policy},{received},{key}\n")


def _examples(n_examples: int, n_subjects: int, key: SubjectKey) -> list[ExampleInput]:
    refs = [subject_ref(f"person-{s}", key) for s in range(n_subjects)]
    rows = [
        ExampleInput(
            f"ex-{i:07d}",
            refs[i % n_subjects],
            hashlib.sha256(i.to_bytes(8, "little")).hexdigest(),
            float(18 + i % 60),
            "holdout" if i % 10 == 9 else "train",
            f"images/{i:07d}.png",
        )
        for i in range(n_examples)
    ]
    return rows


def _bench_backend(url: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    key = SubjectKey(b"\x07" * 32)
    ledger = Ledger.open(url, create=True)
    out: dict[str, Any] = {}
    try:
        csv_path = workdir / "requests.csv"
        _write_requests_csv(csv_path, args.requests)
        t0, c0 = time.perf_counter(), time.process_time()
        report = intake.import_requests(
            ledger,
            path=csv_path,
            subject_key=key,
            load_policy=load_policy,
            now=datetime(2024, 6, 1, tzinfo=UTC),
        )
        intake_s = time.perf_counter() - t0
        out["intake_process_cpu_s"] = round(time.process_time() - c0, 3)
        if report.created != args.requests or report.errors:
            raise RuntimeError(
                f"intake created {report.created} of {args.requests} ({len(report.errors)} errors)"
            )
        out["intake_rows"] = args.requests
        out["intake_s"] = round(intake_s, 3)
        out["intake_requests_per_s"] = round(args.requests / intake_s, 1)

        rows = _examples(args.examples, args.subjects, key)
        t0, c0 = time.perf_counter(), time.process_time()
        dataset = lineage.register_examples(ledger, name="bench", records=rows)
        register_s = time.perf_counter() - t0
        out["register_process_cpu_s"] = round(time.process_time() - c0, 3)
        out["register_examples"] = args.examples
        out["register_s"] = round(register_s, 3)
        out["register_examples_per_s"] = round(args.examples / register_s, 1)
        del rows

        resolve_csv = workdir / "resolve.csv"
        with resolve_csv.open("w") as fh:
            fh.write("subject,policy,received_at\n")
            for s in range(args.resolve):
                fh.write(f"person-{s},gdpr-art17,2024-05-01\n")
        resolve_report = intake.import_requests(
            ledger, path=resolve_csv, subject_key=key, load_policy=load_policy
        )
        request_ids = list(resolve_report.request_ids)
        t0, c0 = time.perf_counter(), time.process_time()
        with ledger.session(write=False) as session:
            forget = lineage.resolve_forget_set(session, request_ids=request_ids, dataset=dataset.dataset_id)
        resolve_s = time.perf_counter() - t0
        out["resolve_process_cpu_s"] = round(time.process_time() - c0, 3)
        out["resolve_requests"] = len(request_ids)
        out["resolve_forget_set_examples"] = forget.count
        out["resolve_10k_subjects_s" if args.resolve == 10_000 else f"resolve_{args.resolve}_subjects_s"] = (
            round(resolve_s, 3)
        )
        out["resolve_s"] = round(resolve_s, 3)
        expected = args.resolve * (args.examples // args.subjects)
        if forget.count != expected:
            raise RuntimeError(f"forget set has {forget.count} examples; expected {expected}")
    finally:
        ledger.dispose()
    return out


def _scratch_postgres(admin_url: str) -> tuple[str, sa.Engine, str]:
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"dsdk_bench_{uuid.uuid4().hex[:10]}"
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), engine, name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes (5k requests, 100k examples, 1k resolved)"
    )
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--requests", type=int, default=50_000, help="rows in the intake CSV")
    parser.add_argument("--examples", type=int, default=1_000_000, help="examples to register")
    parser.add_argument("--subjects", type=int, default=100_000, help="distinct subjects among the examples")
    parser.add_argument("--resolve", type=int, default=10_000, help="requests (subjects) to resolve")
    parser.add_argument("--postgres-url", default=os.environ.get("DELETION_SDK_TEST_POSTGRES_URL"))
    args = parser.parse_args(argv)
    configure_logging(level="WARNING", json=True)  # logs to stderr; stdout carries the one JSON document
    if args.quick:
        args.requests, args.examples, args.subjects, args.resolve = 5_000, 100_000, 10_000, 1_000
    if args.resolve > args.subjects or args.examples % args.subjects:
        parser.error("--resolve must be <= --subjects, and --examples a multiple of --subjects")

    results: dict[str, Any] = {}
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        workdir = Path(tempfile.mkdtemp(prefix="dsdk-bench-"))
        try:
            if backend == "sqlite":
                results["sqlite"] = _bench_backend(f"sqlite:///{workdir / 'ledger.db'}", args, workdir)
            elif backend == "postgres":
                if not args.postgres_url:
                    results["postgres"] = {"skipped": "no --postgres-url / DELETION_SDK_TEST_POSTGRES_URL"}
                    continue
                url, admin, name = _scratch_postgres(args.postgres_url)
                try:
                    results["postgres"] = _bench_backend(url, args, workdir)
                finally:
                    with admin.connect() as conn:
                        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    admin.dispose()
            else:
                parser.error(f"unknown backend {backend!r}")
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        if not args.json:
            print(backend, json.dumps(results[backend]), file=sys.stderr)

    document = {
        "benchmark": "ledger_throughput",
        "sizes": {
            "requests": args.requests,
            "examples": args.examples,
            "subjects": args.subjects,
            "resolve": args.resolve,
        },
        "targets": TARGETS,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "sqlite": __import__("sqlite3").sqlite_version,
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "results": results,
    }
    print(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
