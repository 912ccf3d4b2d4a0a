"""``noop_cheat``: return the model unchanged.

Why it must not be certified: nothing was forgotten; the weights (and so the digest) are the
original's. Every check run on this model gives exactly what it gives on the original, so a policy
that runs its checks on the original too (the threat model's "evidence must have power") sees no
difference and must call the result inconclusive or a failure, never a pass.
"""

from __future__ import annotations

from deletion_sdk.unlearning import Unlearner, UnlearnerParams, UnlearningRun

__all__ = ["NoopCheat"]


class NoopCheat(Unlearner["NoopCheat.Params"]):
    name = "noop_cheat"
    description = "CHEAT: returns the model unchanged (red-team test of the verification)."
    paper = "None: red-team cheat, the do-nothing baseline."
    version = "1"

    class Params(UnlearnerParams):
        pass

    def _run(self, run: UnlearningRun[NoopCheat.Params]) -> None:
        run.check_budget()
