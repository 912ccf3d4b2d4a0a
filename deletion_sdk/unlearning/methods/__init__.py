"""Built-in unlearning methods, one module each; importing this package registers them all."""

from __future__ import annotations

from deletion_sdk.unlearning.methods.bad_teacher import BadTeacher
from deletion_sdk.unlearning.methods.finetune import Finetune
from deletion_sdk.unlearning.methods.l1_sparse import L1Sparse
from deletion_sdk.unlearning.methods.masked_small_gradients import MaskedSmallGradients
from deletion_sdk.unlearning.methods.neggrad_plus import NegGradPlus
from deletion_sdk.unlearning.methods.noisy_finetune import NoisyFinetune
from deletion_sdk.unlearning.methods.random_label import RandomLabel
from deletion_sdk.unlearning.methods.retrain import Retrain
from deletion_sdk.unlearning.methods.salun import SalUn
from deletion_sdk.unlearning.methods.scrub import Scrub
from deletion_sdk.unlearning.methods.ssd import SelectiveSynapticDampening
from deletion_sdk.unlearning.methods.uniform_contrastive import UniformContrastive

__all__ = [
    "BadTeacher",
    "Finetune",
    "L1Sparse",
    "MaskedSmallGradients",
    "NegGradPlus",
    "NoisyFinetune",
    "RandomLabel",
    "Retrain",
    "SalUn",
    "Scrub",
    "SelectiveSynapticDampening",
    "UniformContrastive",
]
