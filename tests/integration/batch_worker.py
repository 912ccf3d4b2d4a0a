"""A batch worker process for the concurrency test: run jobs of one model until nothing is due.

Usage: python batch_worker.py MODEL MAX_REQUESTS OUT.json   (settings from DELETION_SDK_* variables)

It stops only when nothing is due (exit 0, its jobs written to OUT.json). It has no deadline of its own
that could cut a slow run short with partial results: the test's pytest-timeout is the hang guard, and
the test kills the worker when that fires. ``ORPHAN_GUARD_S`` only ends a worker whose test process is
gone; it exits non-zero and writes nothing.
"""

from __future__ import annotations

import json
import sys
import time

from deletion_sdk.sdk import DeletionSDK

ORPHAN_GUARD_S = 3600.0  # well past pytest's timeout; never reached by a test that is still running
POLL_S = 0.5  # how often to look again while the other worker holds the model's job


def main() -> int:
    model, max_requests, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    jobs: list[dict[str, object]] = []
    guard = time.monotonic() + ORPHAN_GUARD_S
    with DeletionSDK.open() as sdk:
        while True:
            result = sdk.run_batch(model=model, max_requests=max_requests)
            if result.status in ("completed", "failed"):
                jobs.append(
                    {"job_id": result.job_id, "status": result.status, "requests": result.request_ids}
                )
                continue
            if result.status == "idle" and result.remaining_due == 0:
                break
            # busy: the other worker's job is running; idle with requests due: its claim holds them
            if time.monotonic() > guard:
                print(
                    f"batch_worker: gave up after {ORPHAN_GUARD_S:.0f} s with {result.remaining_due} "
                    f"requests still due ({result.status}); its {len(jobs)} jobs are not reported",
                    file=sys.stderr,
                )
                return 1
            time.sleep(POLL_S)
    with open(out, "w") as fh:
        json.dump(jobs, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
