"""A scheduled batch deletion job (cron, Airflow, a Kubernetes CronJob) with meaningful exit codes.

    DELETION_SDK_HOME=/srv/deletion-sdk python examples/batch_job.py --model age-predictor

Runs batch jobs for the model until no verified request is due (an interrupted job is resumed first),
logging one JSON object per line on stderr and printing a JSON summary on stdout.

Exit codes: 0 every job completed or nothing was due; 1 a job failed (every allowed method failed
verification: the requests are marked failed and stay open for a retry); 2 bad configuration or input;
3 another live worker holds the model's job (try again later).
"""

from __future__ import annotations

import argparse
import json
import sys

from deletion_sdk import DeletionSDK, DeletionSDKError
from deletion_sdk.errors import ConfigurationError, InputError, NotFoundError
from deletion_sdk.logging import configure_logging, get_logger

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_BUSY = 0, 1, 2, 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="model name whose deployed version is unlearned")
    parser.add_argument("--policy", default=None, help="only requests under this policy")
    parser.add_argument("--max-requests", type=int, default=None, help="requests per job")
    parser.add_argument("--max-jobs", type=int, default=10, help="stop after this many jobs")
    args = parser.parse_args(argv)
    configure_logging(json=True)
    log = get_logger("batch_job")

    jobs = []
    code = EXIT_OK
    try:
        with DeletionSDK.open() as sdk:
            for _ in range(args.max_jobs):
                result = sdk.run_batch(model=args.model, policy=args.policy, max_requests=args.max_requests)
                log.info(
                    "batch.run",
                    job_id=result.job_id,
                    status=result.status,
                    remaining_due=result.remaining_due,
                )
                if result.status == "idle":
                    break
                if result.status == "busy":
                    code = EXIT_BUSY
                    break
                jobs.append(result.model_dump(mode="json"))
                if result.status == "failed":
                    code = EXIT_FAILED
                if result.remaining_due == 0:
                    break
    except (ConfigurationError, InputError, NotFoundError) as e:
        log.error("batch.config_error", error=str(e))
        return EXIT_CONFIG
    except DeletionSDKError as e:
        log.error("batch.error", error=str(e))
        return EXIT_FAILED
    print(json.dumps({"jobs": jobs, "exit_code": code}, indent=2))
    return code


if __name__ == "__main__":
    sys.exit(main())
