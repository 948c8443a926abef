"""The smallest gitruns example: one run with params, a falling loss, a tag and a note."""

import math

import gitruns

with gitruns.start_run(name="quickstart", params={"lr": 0.1, "epochs": 20}) as run:
    weight = 5.0
    for step in range(20):
        gradient = 2 * (weight - 1.0)  # minimise (w - 1)^2
        weight -= 0.1 * gradient
        run.log_metric("loss", (weight - 1.0) ** 2, step=step)
    run.log_metric("final/weight", weight)
    run.set_tag("example", "quickstart")
    run.note(f"converged to w={weight:.4f} (distance {math.fabs(weight - 1):.2e})")

print(f"recorded run {run.id} ({run.name}): {run.status}")
