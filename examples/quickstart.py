"""The API tour: record requests, train a model, make it forget, prove it, certify it.

Run: python examples/quickstart.py [WORKDIR]      (about a minute on a CPU; WORKDIR is recreated)
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from _tiny import tiny_faces

from deletion_sdk import DeletionSDK, TrainConfig


def main(workdir: Path) -> int:
    shutil.rmtree(workdir, ignore_errors=True)
    manifest, people = tiny_faces(workdir / "faces")

    with DeletionSDK.open(home=workdir / "home") as sdk:  # SQLite under HOME; PostgreSQL via database_url=
        sdk.generate_keys()  # Ed25519 key that signs certificates and audit checkpoints

        # 1. Lineage: which person each training example came from (only keyed hashes are stored).
        dataset = sdk.register_dataset(name="faces", manifest=manifest)
        print(f"dataset: {dataset.n_examples} examples of {dataset.n_subjects} people")

        # 2. The deployed model.
        model = sdk.train_model(
            dataset="faces", name="age-predictor", config=TrainConfig(image_size=16, epochs=4)
        )
        print(f"deployed age-predictor v{model.version} (sha256 {model.weights_digest[:12]}…)")

        # 3. Requests arrive; identity is verified by the privacy team.
        for person in people[:3]:
            submitted = sdk.submit_request(
                subject=person, policy="gdpr-art17", idempotency_key=f"ticket-{person}"
            )
            record = submitted.request
            print(
                f"request {record.request_id[:8]}… due {record.due_at:%Y-%m-%d} ({record.subject_ref[:12]}…)"
            )
            sdk.verify_request(request_id=record.request_id, reason="identity verified by e-mail link")

        # 4. The batch job: unlearn, verify at the policy's tier, decide, promote, certify.
        result = sdk.run_batch(model="age-predictor", progress=lambda msg: print("  ·", msg))
        print(f"job {result.status}: method {result.method}, {result.forget_examples} examples forgotten")
        print(
            f"attack AUC {result.original_model.attack_auc:.3f} → {result.new_model.attack_auc:.3f}"
            if result.original_model and result.new_model and result.new_model.attack_auc is not None
            else ""
        )

        # 5. Evidence anyone can check: the certificate (offline, with the public key) and the audit log.
        verified = sdk.verify_certificate(path=result.certificate_path)
        print(
            f"certificate verified: signed by key {verified.key_id[:16]}…, decision passed = "
            f"{verified.predicate.decision.passed}"
        )
        print(f"audit log verified: {sdk.verify_audit_log().tree_size} entries")
        print(f"privacy officer's report: {sdk.write_report(job_id=result.job_id)}")
    return 0 if result.status == "completed" else 1


if __name__ == "__main__":
    target = (
        Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="deletion-sdk-")) / "tour"
    )
    sys.exit(main(target))
