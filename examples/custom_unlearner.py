"""Add your own unlearning method and run it through the whole pipeline.

A method is one small class, generic in its parameters (``Unlearner["MyMethod.Params"]``, so that
``run.params`` is typed): a registry ``name``, a one-line ``description``, the ``paper`` it follows, a
frozen ``Params`` model of defaults, and one hook, ``_run``, that edits ``run.model`` through the shared
machinery (epochs, batches, AMP on CUDA, the time budget). Register it with ``register_unlearner`` — or,
in a package, through the ``deletion_sdk.unlearners`` entry-point group — and every policy, the CLI and
the contract test suite can use it. A batch job runs only the methods its policy lists, so the example
writes a team policy that tries the new method first (the certificate names its code by SHA-256).

Run: python examples/custom_unlearner.py [WORKDIR]
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from _tiny import tiny_faces
from pydantic import Field

from deletion_sdk import DeletionSDK, TrainConfig, Unlearner, UnlearnerParams, register_unlearner
from deletion_sdk.policy.loader import BUILTIN_POLICY_DIR
from deletion_sdk.settings import Settings
from deletion_sdk.unlearning import UnlearningRun


@register_unlearner
class ForgetToUniform(Unlearner["ForgetToUniform.Params"]):
    """Push forget-set predictions towards the uniform distribution, then repair on the retain set."""

    name = "forget_to_uniform"
    description = "KL towards uniform on the forget set, then one retain epoch (example plugin)."
    paper = "Example only; the same idea as the 2nd-ranked NeurIPS 2023 entry's first phase."
    version = "1"

    class Params(UnlearnerParams):
        forget_epochs: int = Field(2, ge=1)
        retain_epochs: int = Field(1, ge=1)
        lr_scale: float = Field(0.5, gt=0)

    def _run(self, run: UnlearningRun[ForgetToUniform.Params]) -> None:
        p = run.params
        run.model.train()
        opt = run.optimizer(p.lr_scale)
        for _ in run.epochs(p.forget_epochs, phase="forget"):
            for b in run.batches(run.forget):
                log_probs = F.log_softmax(run.forward(b.x), dim=1)
                uniform = torch.full_like(log_probs, 1.0 / log_probs.shape[1])
                run.step(F.kl_div(log_probs, uniform, reduction="batchmean"), opt)
        for _ in run.epochs(p.retain_epochs, phase="retain"):
            for b in run.batches(run.retain):
                run.step(F.cross_entropy(run.forward(b.x), b.y), opt)


def main(workdir: Path) -> int:
    shutil.rmtree(workdir, ignore_errors=True)
    manifest, people = tiny_faces(workdir / "faces")
    # The policy decides which methods may run: a team's policy lists its own method first, retrain last.
    policies = workdir / "policies"
    policies.mkdir(parents=True)
    ccpa = (BUILTIN_POLICY_DIR / "ccpa.yaml").read_text(encoding="utf-8").replace("id: ccpa", "id: team-ccpa")
    methods = re.sub(r"methods: \[[^\]]*\]", "methods: [forget_to_uniform, retrain]", ccpa)
    (policies / "team-ccpa.yaml").write_text(methods, encoding="utf-8")
    settings = Settings(home=workdir / "home", policy_dir=policies)
    with DeletionSDK.open(settings=settings) as sdk:
        sdk.generate_keys()
        sdk.register_dataset(name="faces", manifest=manifest)
        sdk.train_model(dataset="faces", name="age-predictor", config=TrainConfig(image_size=16, epochs=4))
        for person in people[:2]:
            r = sdk.submit_request(subject=person, policy="team-ccpa")
            sdk.verify_request(request_id=r.request.request_id)
        # The custom method runs first; the job falls back to exact retraining if it fails the policy.
        result = sdk.run_batch(model="age-predictor")
        for attempt in result.attempts:
            print(f"{attempt.method}: {attempt.outcome} {attempt.decision or ''}")
        if result.certificate_path is None:
            print(f"no certificate: {result.message}")
            return 1
        verified = sdk.verify_certificate(path=result.certificate_path)
        print(
            f"certified method: {verified.predicate.unlearner.name} v{verified.predicate.unlearner.version}"
        )
    return 0 if result.status == "completed" else 1


if __name__ == "__main__":
    target = (
        Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="deletion-sdk-")) / "custom"
    )
    sys.exit(main(target))
