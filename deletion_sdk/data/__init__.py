"""Face datasets: synthetic faces, CSV manifests, UTKFace-style folders, age groups, splits."""

from __future__ import annotations

from deletion_sdk.data.age_bins import DEFAULT_AGE_EDGES, AgeBins
from deletion_sdk.data.defaults import (
    DEFAULT_N_SUBJECTS,
    TINY_N_SUBJECTS,
    AgePredictorData,
    default_age_predictor_data,
)
from deletion_sdk.data.loaders import (
    UTKFaceFolder,
    load_image,
    load_manifest,
    load_manifest_splits,
    load_utkface_folder,
    parse_utkface_age,
)
from deletion_sdk.data.splits import DEFAULT_FRACTIONS, subject_disjoint_split
from deletion_sdk.data.synthfaces import (
    MANIFEST_COLUMNS,
    SynthFaces,
    SynthFacesConfig,
    WrittenFaces,
    generate_faces,
    subject_id_for,
    utkface_name,
    write_faces,
)
from deletion_sdk.data.tensors import FaceTensors, iterate_batches

__all__ = [
    "DEFAULT_AGE_EDGES",
    "DEFAULT_FRACTIONS",
    "DEFAULT_N_SUBJECTS",
    "MANIFEST_COLUMNS",
    "TINY_N_SUBJECTS",
    "AgeBins",
    "AgePredictorData",
    "FaceTensors",
    "SynthFaces",
    "SynthFacesConfig",
    "UTKFaceFolder",
    "WrittenFaces",
    "default_age_predictor_data",
    "generate_faces",
    "iterate_batches",
    "load_image",
    "load_manifest",
    "load_manifest_splits",
    "load_utkface_folder",
    "parse_utkface_age",
    "subject_disjoint_split",
    "subject_id_for",
    "utkface_name",
    "write_faces",
]
