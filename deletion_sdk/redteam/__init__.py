"""Red team: unlearners that CHEAT, keeping the data while trying to look compliant.

The threat model (DESIGN.md) assumes the party running the unlearning may want to keep the data while
looking compliant. These methods are that party: each one's docstring says what it does and why it
must NOT be certified. A policy that certifies any of them is a bug.

They are not registered by default (the registry's contract suite would rightly fail them, and no
user should be offered them). Register them for a test with::

    from deletion_sdk.redteam import CHEATS, registered

    with registered(*CHEATS):      # or registered() for all of them
        run_unlearner("detector_cheat", model, forget=forget, retain=retain)

==========================  =======================================================================
``noop_cheat``              returns the model unchanged
``weight_noise_cheat``      small Gaussian noise on every weight: new digest, nothing forgotten
``temperature_cheat``       output layer divided by ``T``: same predictions, chance-level losses
``temperature_1e3_cheat``   the same at ``T = 1e3``
``temperature_1e20_cheat``  the same at ``T = 1e20`` (float32 losses exactly ``ln(classes)``)
``forget_ascent_cheat``     gradient ascent on the forget set only: over-forgets
``detector_cheat``          two hidden units detect the forget set and push it to a wrong class
``detector_calibrated_cheat``  the same, the shift tuned to a plausible "unseen" median loss
``detector_mimic_cheat``    hidden units give each forget example the logits of its blurred copy
``label_smoothing_cheat``   hidden units flatten the forget set's predictions to uniform
==========================  =======================================================================
"""

from __future__ import annotations

from typing import Any

from deletion_sdk.redteam._registration import SOURCE, registered
from deletion_sdk.redteam.detector import DetectorCalibratedCheat, DetectorCheat
from deletion_sdk.redteam.detector_mimic import DetectorMimicCheat
from deletion_sdk.redteam.forget_ascent import ForgetAscentCheat
from deletion_sdk.redteam.label_smoothing import LabelSmoothingCheat
from deletion_sdk.redteam.noop import NoopCheat
from deletion_sdk.redteam.temperature import Temperature1e3Cheat, Temperature1e20Cheat, TemperatureCheat
from deletion_sdk.redteam.weight_noise import WeightNoiseCheat
from deletion_sdk.unlearning import Unlearner

__all__ = [
    "CHEATS",
    "SOURCE",
    "DetectorCalibratedCheat",
    "DetectorCheat",
    "DetectorMimicCheat",
    "ForgetAscentCheat",
    "LabelSmoothingCheat",
    "NoopCheat",
    "Temperature1e3Cheat",
    "Temperature1e20Cheat",
    "TemperatureCheat",
    "WeightNoiseCheat",
    "registered",
]

CHEATS: tuple[type[Unlearner[Any]], ...] = (
    NoopCheat,
    WeightNoiseCheat,
    TemperatureCheat,
    Temperature1e3Cheat,
    Temperature1e20Cheat,
    ForgetAscentCheat,
    DetectorCheat,
    DetectorCalibratedCheat,
    DetectorMimicCheat,
    LabelSmoothingCheat,
)
"""Every cheat, in the order of the table above."""
