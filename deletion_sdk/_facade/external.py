"""Facade operations for a team's own model and data: external models, UTKFace/folder/plugin imports."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from deletion_sdk._facade.base import FacadeBase, text_arg
from deletion_sdk.ledger.records import ModelVersionRecord

if TYPE_CHECKING:
    from deletion_sdk.external.datasets import ImportResult
    from deletion_sdk.external.mlflow_registry import MlflowPublication
    from deletion_sdk.external.recorder import TrainingLineage
    from deletion_sdk.training.external import Normalisation, TrainingRecipe

__all__ = ["ExternalOperations"]


class ExternalOperations(FacadeBase):
    """Models trained outside the SDK and data imported in the shapes teams have."""

    def register_external_model(
        self,
        *,
        name: str,
        architecture: str,
        weights: Path | str,
        dataset: str | int | None = None,
        lineage: TrainingLineage | Path | str | None = None,
        recipe: TrainingRecipe | Path | str | None = None,
        image_size: int | None = None,
        normalisation: Normalisation | None = None,
        deploy: bool = False,
    ) -> ModelVersionRecord:
        """Register a model trained outside the SDK (torchvision family or plugin architecture).

        Args:
            name: model name.
            architecture: ``torchvision:resnet18`` (…34/50, ``mobilenet_v3_small|large``,
                ``efficientnet_b0``–``b3``) or a registered architecture (entry-point group
                ``deletion_sdk.architectures``).
            weights: a ``.safetensors`` file or a ``torch.save`` state dict (read with ``weights_only=True``).
            dataset: the registered dataset it was trained on.
            lineage: what its loop recorded (:class:`TrainingLineage` or the file ``LineageRecorder.save``
                wrote); its ids must be the dataset's whole training pool.
            recipe: how it was trained (:class:`TrainingRecipe` or a JSON file of one). Without it, only
                unlearners that need no recipe can run, and certificates say so.
            image_size: input side, when there is no recipe.
            normalisation: input normalisation of a torchvision model without a recipe (default ImageNet).
            deploy: deploy the new version (with ``registry: mlflow``, also registered in MLflow with the
                serving alias on it).

        Raises:
            InputError: bad arguments, unreadable or unsafe weights, weights that do not fit, lineage that
                does not match the dataset.
            NotFoundError: a missing file or dataset.
        """
        from deletion_sdk.external.models import register_external_model
        from deletion_sdk.external.recorder import load_lineage
        from deletion_sdk.training.external import load_recipe

        record = register_external_model(
            self.ledger,
            self.layout,
            name=text_arg(name, "name", what="a non-empty model name"),
            architecture=architecture,
            weights=Path(weights),
            dataset=dataset,
            lineage_record=load_lineage(lineage) if isinstance(lineage, Path | str) else lineage,
            recipe=load_recipe(recipe) if isinstance(recipe, Path | str) else recipe,
            image_size=image_size,
            normalisation=normalisation,
            deploy=deploy,
            master_key=self.context.master_key,
        )
        if deploy and self.settings.registry == "mlflow":  # the serving alias starts at the deployed version
            from deletion_sdk.external.mlflow_registry import publish_deployed_after

            publish_deployed_after(self.ledger, self.layout, self.settings, model=record.name)
        return record

    def import_utkface(
        self,
        *,
        name: str,
        directory: Path | str,
        subjects: Path | str | None = None,
        holdout: float = 0.0,
        test: float = 0.0,
    ) -> ImportResult:
        """Register a UTKFace-named folder (ages from the names; one subject per image unless ``subjects``
        maps ``path,subject_id``); ``holdout``/``test`` fractions split by subject."""
        from deletion_sdk.data.importers import scan_utkface
        from deletion_sdk.external.datasets import import_scan

        scan = scan_utkface(directory, subjects_csv=subjects)
        return import_scan(
            self.ledger,
            key=self.subject_key,
            name=text_arg(name, "name", what="a non-empty dataset name"),
            scan=scan,
            root=directory,
            holdout=holdout,
            test=test,
        )

    def import_image_folder(
        self,
        *,
        name: str,
        directory: Path | str,
        subjects: Path | str,
        holdout: float = 0.0,
        test: float = 0.0,
    ) -> ImportResult:
        """Register every image under ``directory``, owned and aged through the CSV ``subjects``
        (``path,subject_id[,age][,split]``; ages may come from the parent folder's name instead)."""
        from deletion_sdk.data.importers import scan_image_folder
        from deletion_sdk.external.datasets import import_scan

        scan = scan_image_folder(directory, subjects_csv=subjects)
        return import_scan(
            self.ledger,
            key=self.subject_key,
            name=text_arg(name, "name", what="a non-empty dataset name"),
            scan=scan,
            root=directory,
            holdout=holdout,
            test=test,
        )

    def import_dataset_source(
        self,
        *,
        name: str,
        source: str,
        out: Path | str,
        options: dict[str, str] | None = None,
        holdout: float = 0.0,
        test: float = 0.0,
    ) -> ImportResult:
        """Register the examples of an installed dataset source (entry-point group ``deletion_sdk.datasets``),
        writing their images under ``out``."""
        from deletion_sdk.data.importers import get_dataset_source
        from deletion_sdk.external.datasets import import_source

        plugin = get_dataset_source(
            text_arg(source, "source", what="an installed source name"), **(options or {})
        )
        return import_source(
            self.ledger,
            key=self.subject_key,
            name=text_arg(name, "name", what="a non-empty dataset name"),
            source=plugin,
            out=out,
            holdout=holdout,
            test=test,
        )

    def publish_to_mlflow(
        self, *, job_id: str, tracking_uri: str | None = None, alias: str | None = None
    ) -> MlflowPublication:
        """Mirror a finished batch job into the MLflow model registry (every attempt a model version with
        its evidence; the serving alias moves only to a certified one; retired versions retired there too).

        Defaults come from the settings (``mlflow_uri``: SQLite under HOME; ``mlflow_alias``).
        """
        from deletion_sdk.external.mlflow_registry import publish_job

        return publish_job(
            self.ledger,
            self.layout,
            job_id=text_arg(job_id, "job_id", what="a batch job id"),
            tracking_uri=tracking_uri or self.settings.mlflow_uri,
            alias=alias or self.settings.mlflow_alias,
        )

    def publish_deployed_to_mlflow(
        self, *, model: str, tracking_uri: str | None = None, alias: str | None = None
    ) -> MlflowPublication:
        """Register the deployed version of ``model`` in MLflow and point the serving alias at it."""
        from deletion_sdk.external.mlflow_registry import publish_deployed

        return publish_deployed(
            self.ledger,
            self.layout,
            model=text_arg(model, "model", what="a model name"),
            tracking_uri=tracking_uri or self.settings.mlflow_uri,
            alias=alias or self.settings.mlflow_alias,
        )
