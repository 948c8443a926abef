"""A tiny PyTorch classifier on random 28x28 "digits" (CPU), with TensorBoard event files
logged as artifacts, in the style of MLflow's pytorch mnist_tensorboard_artifact example.
Only the import line differs from MLflow code."""

import os
import tempfile

import torch
from tensorboardX import SummaryWriter
from torch import nn

import gitruns.mlflow as mlflow

torch.manual_seed(0)
images = torch.rand(64, 1, 28, 28)
labels = torch.randint(0, 10, (64,))
model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 16), nn.ReLU(), nn.Linear(16, 10))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
device = torch.device("cpu")

with mlflow.start_run():
    mlflow.log_params({"lr": 0.1, "device": device, "epochs": 2})
    events = tempfile.mkdtemp()
    writer = SummaryWriter(events)
    for epoch in range(2):
        for step in range(4):
            batch = slice(step * 16, (step + 1) * 16)
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(images[batch]), labels[batch])
            loss.backward()
            optimizer.step()
            global_step = epoch * 4 + step
            writer.add_scalar("train_loss", loss.item(), global_step)
            mlflow.log_metric("train_loss", loss, step=global_step)  # a 0-d tensor
        accuracy = (model(images).argmax(1) == labels).float().mean()
        mlflow.log_metric("test_accuracy", accuracy, step=epoch)
    writer.close()
    mlflow.log_artifacts(events, artifact_path="events")
    torch.save(model.state_dict(), os.path.join(events, "model.pt"))
    mlflow.log_artifact(os.path.join(events, "model.pt"), artifact_path="model")
    print("events:", len(os.listdir(events)))
