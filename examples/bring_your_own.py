"""Bring your own model and data: a torchvision ResNet-18 trained by your own PyTorch loop, unlearned.

A team already has images (here: a UTKFace-named folder with a subject-mapping CSV), its own training
loop and its own model. The SDK needs three things from it:

1. the data, imported with its owners: ``import_utkface`` (ages from the file names);
2. the lineage: a ``LineageRecorder`` told the ids of every training batch;
3. the model: its weights (safetensors), its architecture (``torchvision:resnet18``) and its recipe
   (optimiser, schedule, epochs, batch size, augmentation, image size, normalisation), so that exact
   retraining follows the original training.

Then deletion requests, the batch job, the certificate and the audit log work as for the SDK's own models.

Run: python examples/bring_your_own.py [WORKDIR]
"""

from __future__ import annotations

import csv
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from safetensors.torch import save_file

from deletion_sdk import DeletionSDK
from deletion_sdk.data import AgeBins, SynthFacesConfig, generate_faces, subject_disjoint_split
from deletion_sdk.external import LineageRecorder
from deletion_sdk.settings import Settings
from deletion_sdk.training.external import TrainingRecipe

IMAGE_SIZE = 40


def write_utkface_folder(out: Path, *, n_subjects: int = 24, seed: int = 0) -> list[str]:
    """A UTKFace-named folder (``{age}_{gender}_{race}_{timestamp}.jpg.chip.jpg``) and its subjects.csv.

    Returns the people in the training split."""
    faces = generate_faces(SynthFacesConfig(n_subjects=n_subjects, image_size=IMAGE_SIZE, seed=seed))
    data = faces.data
    parts = subject_disjoint_split(data, fractions={"train": 0.7, "holdout": 0.3}, seed=seed)
    split = {eid: name for name, part in parts.items() for eid in part.example_ids}
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, eid in enumerate(data.example_ids):
        age = round(float(data.ages[i]))
        name = f"{age}_{i % 2}_{i % 5}_2017{i:010d}.jpg.chip.jpg"
        pixels = data.images[i].permute(1, 2, 0).numpy().astype(np.uint8)
        Image.fromarray(pixels).save(out / name, format="JPEG", quality=95)
        rows.append({"path": name, "subject_id": (data.subject_ids or ())[i], "split": split[eid]})
    with open(out / "subjects.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["path", "subject_id", "split"])
        writer.writeheader()
        writer.writerows(rows)
    return sorted({r["subject_id"] for r in rows if r["split"] == "train"})


def team_training_loop(folder: Path, recipe: TrainingRecipe, recorder: LineageRecorder) -> torch.nn.Module:
    """The team's own loop: plain PyTorch, its own data loading, the recipe's optimiser and schedule."""
    bins = AgeBins()
    with open(folder / "subjects.csv", newline="", encoding="utf-8") as f:
        train = [r for r in csv.DictReader(f) if r["split"] == "train"]
    images = torch.stack(
        [
            torch.from_numpy(
                np.array(
                    Image.open(folder / r["path"])
                    .convert("RGB")
                    .resize((recipe.image_size, recipe.image_size), Image.Resampling.BILINEAR)
                )
            ).permute(2, 0, 1)
            for r in train
        ]
    )
    ages = torch.tensor([float(r["path"].split("_", 1)[0]) for r in train])
    labels = bins.labels_for(ages)
    ids = [r["path"] for r in train]  # the importer's example id is the path under the folder
    assert recipe.normalisation is not None
    mean = torch.tensor(recipe.normalisation.mean).view(1, 3, 1, 1)
    std = torch.tensor(recipe.normalisation.std).view(1, 3, 1, 1)
    torch.manual_seed(recipe.seed)
    net = torchvision.models.resnet18(weights=None, num_classes=bins.num_classes)
    optimizer = recipe.optimizer_for(net)
    steps = -(-len(train) // recipe.batch_size)
    scheduler = recipe.scheduler_for(optimizer, steps_per_epoch=steps)
    net.train()
    for _ in range(recipe.epochs):
        order = torch.randperm(len(train))
        for start in range(0, len(train), recipe.batch_size):
            idx = order[start : start + recipe.batch_size]
            x = (images[idx].float() / 255.0 - mean) / std
            loss = F.cross_entropy(net(x), labels[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            recorder.record([ids[i] for i in idx.tolist()])  # which examples this step trained on
        recorder.end_epoch()
    return net.eval()


def main(workdir: Path) -> int:
    shutil.rmtree(workdir, ignore_errors=True)
    folder = workdir / "utkface"
    people = write_utkface_folder(folder)
    recipe = TrainingRecipe(optimizer="sgd", lr=0.05, epochs=1, batch_size=16, image_size=IMAGE_SIZE)

    with DeletionSDK.open(settings=Settings(home=workdir / "home", device="cpu")) as sdk:
        sdk.generate_keys()
        imported = sdk.import_utkface(name="faces", directory=folder, subjects=folder / "subjects.csv")
        print(f"imported {imported.dataset.n_examples} images of {imported.dataset.n_subjects} people")

        recorder = LineageRecorder(dataset="faces")
        net = team_training_loop(folder, recipe, recorder)  # outside the SDK
        weights = workdir / "resnet18.safetensors"
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(weights))
        recorder.save(workdir / "lineage.json")

        version = sdk.register_external_model(
            name="age-resnet",
            architecture="torchvision:resnet18",
            weights=weights,
            dataset="faces",
            lineage=workdir / "lineage.json",
            recipe=recipe,
            deploy=True,
        )
        print(f"registered {version.name} v{version.version} ({version.architecture}), deployed")

        for person in people[:2]:
            r = sdk.submit_request(subject=person, policy="gdpr-art17")
            sdk.verify_request(request_id=r.request.request_id)
        result = sdk.run_batch(model="age-resnet", unlearner="retrain")  # exact: retrains with the recipe
        print(f"batch job: {result.status}, {result.forget_examples} examples forgotten by {result.method}")
        if result.status != "completed" or result.certificate_path is None:
            print(result.message)
            return 1
        sdk.verify_certificate(path=result.certificate_path)
        print("certificate verified")
        sdk.verify_audit_log()
        print("audit log verified")
    return 0


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="bring-your-own-"))
    sys.exit(main(target))
