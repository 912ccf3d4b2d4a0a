"""Training throughput of the architectures, and the default age predictor's figures.

    .venv/bin/python benchmarks/training_throughput.py --json
    .venv/bin/python benchmarks/training_throughput.py --skip-default --json      # throughput only
    .venv/bin/python benchmarks/training_throughput.py --device cuda --json

1. Throughput: training images per second of ``tiny_cnn`` and ``resnet18`` at 32×32 (batch 128,
   Adam), measured over ``--throughput-images`` images after a warm-up step.
2. The default setting: ``default_age_predictor_data(seed)`` (train ≈ 10,000 images) trained with
   ``TrainConfig()`` — holdout and test accuracy, MAE in years, the majority-class baseline, and the
   membership signal: ROC AUC of a loss-threshold attack (score ``-loss``) separating training
   examples from holdout examples (subjects never trained on).

Reports the load average too: on a shared machine, wall-clock figures are pessimistic.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from typing import Any

import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score

from deletion_sdk._device import autocast, resolve_device
from deletion_sdk.data import default_age_predictor_data
from deletion_sdk.training import TrainConfig, build_model, example_losses, make_optimizer, train_model


def throughput(arch: str, *, device: torch.device, n_images: int, batch_size: int = 128) -> dict[str, Any]:
    """Images per second of plain optimisation steps on random 32×32 inputs."""
    torch.manual_seed(0)
    model = build_model(arch).to(device).to(memory_format=torch.channels_last).train()
    optimizer = make_optimizer(model, TrainConfig(arch=arch))
    x = torch.rand(batch_size, 3, 32, 32, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch_size,), device=device)

    def step() -> None:
        with autocast(device):
            loss = F.cross_entropy(model(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step()
    steps = max(1, n_images // batch_size)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elapsed = time.perf_counter() - wall
    return {
        "arch": arch,
        "images": steps * batch_size,
        "wall_s": round(elapsed, 3),
        "cpu_s": round(time.process_time() - cpu, 3),
        "images_per_s": round(steps * batch_size / elapsed, 1),
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def default_model(*, seed: int, device: torch.device, epochs: int | None) -> dict[str, Any]:
    """Train the default configuration and measure accuracy, MAE and the membership signal."""
    wall = time.perf_counter()
    data = default_age_predictor_data(seed)
    data_s = time.perf_counter() - wall
    config = TrainConfig(seed=seed) if epochs is None else TrainConfig(seed=seed, epochs=epochs)
    cpu = time.process_time()
    result = train_model(
        data.train, config=config, device=device, eval_sets={"holdout": data.holdout, "test": data.test}
    )
    train_cpu = time.process_time() - cpu
    member = example_losses(result.model, data.train)
    non_member = example_losses(result.model, data.holdout)
    labels = [1] * len(member) + [0] * len(non_member)
    auc = float(roc_auc_score(labels, torch.cat([-member, -non_member]).numpy()))
    counts = torch.bincount(data.train.labels, minlength=data.bins.num_classes)
    majority = int(counts.argmax())
    m = result.metrics
    return {
        "config": json.loads(config.model_dump_json()),
        "n_train": len(data.train),
        "n_holdout": len(data.holdout),
        "n_test": len(data.test),
        "data_generation_s": round(data_s, 2),
        "train_time_s": round(m.train_time_s, 2),
        "train_cpu_s": round(train_cpu, 2),
        "wall_time_s": round(m.wall_time_s, 2),
        "images_per_s": round(m.images_per_s, 1),
        "train_accuracy": round(m.train_accuracy, 4),
        "holdout_accuracy": round(m.accuracy["holdout"], 4),
        "test_accuracy": round(m.accuracy["test"], 4),
        "majority_class_holdout_accuracy": round(float((data.holdout.labels == majority).float().mean()), 4),
        "train_mae_years": round(m.train_mae_years, 2),
        "holdout_mae_years": round(m.mae_years["holdout"], 2),
        "test_mae_years": round(m.mae_years["test"], 2),
        "train_loss": round(m.train_loss, 4),
        "holdout_loss": round(m.mean_loss["holdout"], 4),
        "membership_auc_loss_threshold": round(auc, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--throughput-images", type=int, default=2048)
    parser.add_argument("--archs", nargs="+", default=["tiny_cnn", "resnet18"])
    parser.add_argument("--skip-default", action="store_true", help="skip training the default model")
    parser.add_argument("--epochs", type=int, default=None, help="override TrainConfig().epochs")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    result: dict[str, Any] = {
        "benchmark": "training_throughput",
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
    }
    result["throughput"] = [throughput(a, device=device, n_images=args.throughput_images) for a in args.archs]
    if not args.skip_default:
        result["default_model"] = default_model(seed=args.seed, device=device, epochs=args.epochs)
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    if args.json:
        print(json.dumps(result))
    else:
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
