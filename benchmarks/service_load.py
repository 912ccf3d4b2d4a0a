"""Load test of ``deletion-sdk serve`` on loopback: intake rate, latency, and idempotent replays.

    python benchmarks/service_load.py --json                  # PostgreSQL from DELETION_SDK_TEST_POSTGRES_URL
    python benchmarks/service_load.py --backend sqlite --json
    python benchmarks/service_load.py --rate 800 --duration 10 --json

What it does, on an empty deployment (a scratch PostgreSQL database, dropped afterwards):

1. starts ``deletion-sdk serve`` in a subprocess on 127.0.0.1 (``--workers``, default 1 as for ``serve``; no
   rate limit; one webhook endpoint is registered, so every intake also writes its outbox row, but delivery
   is off during the run);
2. **steady phase**: sends ``POST /v1/requests`` at a fixed arrival rate (``--rate`` per second, open loop,
   for ``--duration`` seconds), each with a new subject and a new Idempotency-Key, over ``--connections``
   keep-alive connections. Latency is measured from each request's *scheduled* send time to its answer, so
   a server that falls behind shows it in the percentiles (no coordinated omission);
3. **replay phase**: ``--replay-keys`` keys, each sent ``--copies`` times at once (shuffled across
   connections, same subject and key every time);
4. checks the ledger afterwards: every key maps to exactly one stored request (found by its keyed
   idempotency hash), every answer for a key names that request, exactly one answer per key says
   ``created``, and the number of stored requests equals the number of distinct keys — zero lost, zero
   duplicated.

The client is a minimal asyncio HTTP/1.1 client (it costs far less CPU than the server, which shares the
same cores). Figures: achieved requests/s, p50/p90/p99/max latency in ms, non-2xx answers, the load
average before and after (the machine may be shared: read the figures with it), and the CPU milliseconds
each intake cost the server processes, the client and the PostgreSQL backends during the steady phase.
``capacity_on_2_idle_cores_estimate`` = 2,000 / (their sum): the intake rate two otherwise idle cores could
sustain at that cost; an estimate for reading a run on a busy machine, not a measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

TARGETS = {"intake_requests_per_s": 500.0, "p99_ms": 100.0, "lost": 0, "duplicated": 0}


@dataclass
class Outcome:
    key: str
    status: int
    latency_ms: float
    request_id: str | None
    created: bool | None


@dataclass
class Phase:
    outcomes: list[Outcome] = field(default_factory=list)
    elapsed_s: float = 0.0


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its live descendants (Linux /proc; 0 elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total, stack = 0.0, [pid]
    while stack:
        current = stack.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (OSError, IndexError, ValueError):
            continue
        stack.extend(int(c) for c in children)
    return total


def _postgres_cpu_s(database_url: str) -> float:
    """CPU seconds of the PostgreSQL backends serving ``database_url``'s database (same machine only)."""
    if not database_url.startswith("postgresql"):
        return 0.0
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            pids = [
                int(r[0])
                for r in conn.execute(
                    sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
                ).all()
            ]
    finally:
        engine.dispose()
    return sum(_cpu_s(p) for p in pids)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _send(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, token: str, key: str, body: bytes
) -> tuple[int, bytes]:
    head = (
        "POST /v1/requests HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nIdempotency-Key: {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    writer.write(head.encode() + body)
    await writer.drain()
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    return status, await reader.readexactly(length)


async def _run_phase(port: int, token: str, jobs: list[tuple[float, str, bytes]], connections: int) -> Phase:
    """Send ``jobs`` (scheduled offset in s, key, body); each connection takes the next due job."""
    phase = Phase()
    queue: asyncio.Queue[tuple[float, str, bytes]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    start = time.perf_counter() + 0.05

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while True:
                try:
                    offset, key, body = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                due = start + offset
                wait = due - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                status, raw = await _send(reader, writer, token=token, key=key, body=body)
                latency = (time.perf_counter() - due) * 1000.0
                rid = created = None
                if 200 <= status < 300:
                    answer = json.loads(raw)
                    rid, created = answer["request"]["request_id"], answer["created"]
                phase.outcomes.append(Outcome(key, status, latency, rid, created))
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    phase.elapsed_s = time.perf_counter() - start
    return phase


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100.0 * len(ordered) + 0.5) - 1))
    return ordered[index]


def _summary(phase: Phase, offered_per_s: float | None = None) -> dict[str, Any]:
    ok = [o for o in phase.outcomes if 200 <= o.status < 300]
    latencies = [o.latency_ms for o in phase.outcomes]
    return {
        # requests_per_s counts the last answer's latency too, so it stays just below the offered rate
        # even when the server keeps up: offer more than a target rate to show it is met.
        "offered_requests_per_s": offered_per_s,
        "requests": len(phase.outcomes),
        "non_2xx": len(phase.outcomes) - len(ok),
        "elapsed_s": round(phase.elapsed_s, 3),
        "requests_per_s": round(len(ok) / phase.elapsed_s, 1) if phase.elapsed_s else 0.0,
        "latency_ms": {
            "p50": round(_percentile(latencies, 50), 2),
            "p90": round(_percentile(latencies, 90), 2),
            "p99": round(_percentile(latencies, 99), 2),
            "max": round(max(latencies), 2) if latencies else None,
        },
    }


def _body(subject: str) -> bytes:
    return json.dumps({"subject": subject, "policy": "gdpr-art17"}).encode()


def _check_ledger(database_url: str, subject_key_hex: str, phases: list[Phase]) -> dict[str, Any]:
    """Compare every answer with the stored requests (keyed idempotency hashes)."""
    from deletion_sdk.ledger.intake import keyed_idempotency_key
    from deletion_sdk.ledger.subjects import SubjectKey

    key = SubjectKey.from_hex(subject_key_hex)
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        stored = {
            k: rid
            for rid, k in conn.execute(sa.text("SELECT id, idempotency_key FROM deletion_requests")).all()
        }
        total = int(conn.execute(sa.text("SELECT count(*) FROM deletion_requests")).scalar_one())
    engine.dispose()
    answers: dict[str, list[Outcome]] = {}
    for phase in phases:
        for o in phase.outcomes:
            answers.setdefault(o.key, []).append(o)
    lost = duplicated = mismatched = unanswered = 0
    created_counts: list[int] = []
    for k, outcomes in answers.items():
        rid = stored.get(keyed_idempotency_key(key, k))
        ok = [o for o in outcomes if o.request_id is not None]
        if not ok:
            unanswered += 1
            continue
        if rid is None:
            lost += 1
            continue
        if any(o.request_id != rid for o in ok):
            mismatched += 1
        created_counts.append(sum(1 for o in ok if o.created))
    duplicated = total - len(stored) + sum(1 for c in created_counts if c > 1)
    return {
        "distinct_keys": len(answers),
        "stored_requests": total,
        "lost": lost,
        "duplicated": duplicated + max(0, total - len(answers)),
        "answers_naming_another_request": mismatched,
        "keys_without_a_2xx_answer": unanswered,
        "keys_created_exactly_once": sum(1 for c in created_counts if c == 1),
    }


def _scratch_postgres(admin_url: str) -> tuple[str, sa.Engine, str]:
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"dsdk_svc_{uuid.uuid4().hex[:10]}"
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), engine, name


def _cli(home: Path, url: str, *args: str) -> str:
    cmd = [sys.executable, "-m", "deletion_sdk.cli", "--home", str(home), "--database-url", url, *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def _wait_ready(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if b" 200 " in s.recv(200):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not become ready")


def _bench(url: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    home = workdir / "home"
    subject_key = os.urandom(32).hex()
    env = {**os.environ, "DELETION_SDK_SUBJECT_KEY": subject_key}
    os.environ["DELETION_SDK_SUBJECT_KEY"] = subject_key
    _cli(home, url, "init")
    token = json.loads(_cli(home, url, "tokens", "create", "--scope", "intake", "--name", "load", "--json"))[
        "token"
    ]
    _cli(home, url, "webhooks", "add", "http://127.0.0.1:9/unused")
    port = _free_port()
    server_cmd = [
        sys.executable, "-m", "deletion_sdk.cli", "--home", str(home), "--database-url", url, "serve",
        "--port", str(port), "--rate-limit", "0", "--no-webhooks", "--workers", str(args.workers),
    ]  # fmt: skip
    proc = subprocess.Popen(server_cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_ready(port, proc)
        warm = [(i / 200.0, f"warm-{i}", _body(f"warm-{i}@example.com")) for i in range(args.warmup)]
        warmup = asyncio.run(_run_phase(port, token, warm, args.connections))
        n = int(args.rate * args.duration)
        steady_jobs = [(i / args.rate, f"steady-{i}", _body(f"steady-{i}@example.com")) for i in range(n)]
        load_before = os.getloadavg()
        server_cpu = _cpu_s(proc.pid)
        client_cpu = time.process_time()
        db_cpu = _postgres_cpu_s(url)
        steady = asyncio.run(_run_phase(port, token, steady_jobs, args.connections))
        done = max(1, sum(1 for o in steady.outcomes if 200 <= o.status < 300))
        cpu_ms = {
            "server": round((_cpu_s(proc.pid) - server_cpu) * 1000 / done, 3),
            "client": round((time.process_time() - client_cpu) * 1000 / done, 3),
            # backends that lived through the phase (pooled connections): a lower bound
            "postgres": round((_postgres_cpu_s(url) - db_cpu) * 1000 / done, 3),
        }
        replay_jobs = [
            (0.0, f"replay-{k}", _body(f"replay-{k}@example.com"))
            for k in range(args.replay_keys)
            for _ in range(args.copies)
        ]
        random.Random(0).shuffle(replay_jobs)
        replay = asyncio.run(_run_phase(port, token, replay_jobs, args.connections))
        load_after = os.getloadavg()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return {
        "steady": _summary(steady, args.rate),
        "cpu_ms_per_intake": cpu_ms,
        "capacity_on_2_idle_cores_estimate": round(2000.0 / max(sum(cpu_ms.values()), 1e-9), 1),
        "replay": _summary(replay),
        "ledger_check": _check_ledger(url, subject_key, [warmup, steady, replay]),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--backend", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--postgres-url", default=os.environ.get("DELETION_SDK_TEST_POSTGRES_URL"))
    parser.add_argument("--rate", type=float, default=500.0, help="intake requests per second (open loop)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of the steady phase")
    parser.add_argument("--connections", type=int, default=32, help="keep-alive client connections")
    parser.add_argument(
        "--workers", type=int, default=1, help="server processes (uvicorn workers; serve's default is 1)"
    )
    parser.add_argument("--replay-keys", type=int, default=500, help="keys in the replay phase")
    parser.add_argument("--copies", type=int, default=4, help="concurrent copies of each replayed key")
    parser.add_argument("--warmup", type=int, default=200, help="requests before measuring")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="dsdk-svc-"))
    admin = name = None
    try:
        if args.backend == "postgres":
            if not args.postgres_url:
                parser.error("--backend postgres needs --postgres-url or DELETION_SDK_TEST_POSTGRES_URL")
            url, admin, name = _scratch_postgres(args.postgres_url)
        else:
            url = f"sqlite:///{workdir / 'ledger.db'}"
        result = _bench(url, args, workdir)
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()
        shutil.rmtree(workdir, ignore_errors=True)
    steady, check = result["steady"], result["ledger_check"]
    document = {
        "benchmark": "service_load",
        "backend": args.backend,
        "settings": {
            "rate": args.rate,
            "duration_s": args.duration,
            "connections": args.connections,
            "server_workers": args.workers,
            "replay_keys": args.replay_keys,
            "copies": args.copies,
        },
        "targets": TARGETS,
        **result,
        "meets_targets": {
            "intake_requests_per_s": steady["requests_per_s"] >= TARGETS["intake_requests_per_s"],
            "p99_ms": steady["latency_ms"]["p99"] <= TARGETS["p99_ms"],
            "no_errors": steady["non_2xx"] == 0 and result["replay"]["non_2xx"] == 0,
            "lost": check["lost"] == 0 and check["keys_without_a_2xx_answer"] == 0,
            "duplicated": check["duplicated"] == 0 and check["answers_naming_another_request"] == 0,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
    }
    print(json.dumps(document, indent=2 if args.json else None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
