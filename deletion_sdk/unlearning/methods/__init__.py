"""Built-in unlearning methods, one module each; importing this package registers them all.

Each method's default parameters were chosen on the default CPU age predictor
(``default_age_predictor_data(0)``, ``TrainConfig()``, forget = whole subjects, 2% of training images) by
a small grid minimising ``|AUC - AUC_retrain| + max(0, holdout_acc_retrain - holdout_acc)``, AUC being
the forget-vs-holdout loss attack (retrain: AUC 0.507, holdout 0.368; original: AUC 0.709, holdout
0.398). The settings tried, with AUC / holdout accuracy, are listed beside each ``Params``.
"""

from __future__ import annotations

from deletion_sdk.unlearning.methods.bad_teacher import BadTeacher
from deletion_sdk.unlearning.methods.finetune import Finetune
from deletion_sdk.unlearning.methods.l1_sparse import L1Sparse
from deletion_sdk.unlearning.methods.margin_shift_distill import MarginShiftDistill
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
    "MarginShiftDistill",
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
