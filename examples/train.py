"""A real (small) training job: logistic regression by gradient descent, pure Python.

Run it under gitruns to record everything about it:

    gitruns record --artifact 'out/*.json' -- python examples/train.py --lr 0.5 --epochs 30

The script logs through the Python API; under ``gitruns record`` that joins the recorded
run, and run on its own it records a run by itself.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from pathlib import Path

import gitruns


def make_data(n: int, seed: int) -> list[tuple[list[float], int]]:
    """Two Gaussian blobs in 2-D, labels 0 and 1."""
    rng = random.Random(seed)
    data = []
    for _ in range(n):
        label = rng.random() < 0.5
        centre = (1.5, 1.0) if label else (-1.0, -1.5)
        point = [rng.gauss(centre[0], 1.0), rng.gauss(centre[1], 1.0)]
        data.append((point, int(label)))
    return data


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))


def evaluate(w: list[float], b: float, data: list[tuple[list[float], int]]) -> tuple[float, float]:
    loss = correct = 0.0
    for x, y in data:
        p = min(max(sigmoid(w[0] * x[0] + w[1] * x[1] + b), 1e-12), 1 - 1e-12)
        loss -= y * math.log(p) + (1 - y) * math.log(1 - p)
        correct += (p >= 0.5) == bool(y)
    return loss / len(data), correct / len(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--samples", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out")
    args = parser.parse_args()

    train, test = make_data(args.samples, args.seed), make_data(args.samples // 4, args.seed + 1)
    w, b = [0.0, 0.0], 0.0
    with gitruns.start_run(name="logreg", params=vars(args), tags={"model": "logreg"}) as run:
        for epoch in range(args.epochs):
            gw, gb = [0.0, 0.0], 0.0
            for x, y in train:
                error = sigmoid(w[0] * x[0] + w[1] * x[1] + b) - y
                gw = [gw[0] + error * x[0], gw[1] + error * x[1]]
                gb += error
            w = [w[0] - args.lr * gw[0] / len(train), w[1] - args.lr * gw[1] / len(train)]
            b -= args.lr * gb / len(train)
            train_loss, train_acc = evaluate(w, b, train)
            test_loss, test_acc = evaluate(w, b, test)
            run.log_metrics({"train/loss": train_loss, "train/acc": train_acc}, step=epoch)
            run.log_metrics({"test/loss": test_loss, "test/acc": test_acc}, step=epoch)
            print(f"epoch {epoch:3d}  train loss {train_loss:.4f}  test acc {test_acc:.3f}")
        out = Path(args.out)
        out.mkdir(exist_ok=True)
        (out / "model.json").write_text(json.dumps({"w": w, "b": b}))
        run.log_artifact(out / "model.json")


if __name__ == "__main__":
    main()
