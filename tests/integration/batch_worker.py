"""A batch worker process for the concurrency test: run jobs of one model until nothing is due.

Usage: python batch_worker.py MODEL MAX_REQUESTS OUT.json   (settings from DELETION_SDK_* variables)
"""

from __future__ import annotations

import json
import sys
import time

from deletion_sdk.sdk import DeletionSDK


def main() -> None:
    model, max_requests, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    jobs: list[dict[str, object]] = []
    deadline = time.monotonic() + 900
    with DeletionSDK.open() as sdk:
        while time.monotonic() < deadline:
            result = sdk.run_batch(model=model, max_requests=max_requests)
            if result.status in ("completed", "failed"):
                jobs.append(
                    {"job_id": result.job_id, "status": result.status, "requests": result.request_ids}
                )
            elif result.status == "busy":
                time.sleep(0.5)
            elif result.remaining_due == 0:
                break
    with open(out, "w") as fh:
        json.dump(jobs, fh)


if __name__ == "__main__":
    main()
