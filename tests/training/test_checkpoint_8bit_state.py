"""Checkpoints of the bitsandbytes 8-bit optimizers with parameters big enough to get 8-bit states (bitsandbytes
keeps 32-bit states below 4,096 elements, so the toy's adapter never reached this): their parameters share one
quantization map, which safetensors refuses to save as it is. The state saves, reloads and continues exactly."""

from __future__ import annotations

import pytest
import torch
from transformers import get_scheduler

from modelmate.training import checkpoints
from modelmate.training.optim import make_optimizer


def _setup(name: str):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(96, 64), torch.nn.Linear(64, 96))  # 6,144-element weights
    optimizer = make_optimizer(name, [p for p in model.parameters()], lr=1e-2, weight_decay=0.0)
    scheduler = get_scheduler("constant", optimizer)
    return model, optimizer, scheduler


def _step(model, optimizer, scheduler, seed: int) -> None:
    torch.manual_seed(seed)
    x = torch.randn(8, 96)
    loss = (model(x) - x).pow(2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    scheduler.step()


@pytest.mark.parametrize("name", ["adamw_8bit", "paged_adamw_8bit"])
def test_8bit_optimizer_state_checkpoints_and_resumes_exactly(name, tmp_path):
    model, optimizer, scheduler = _setup(name)
    _step(model, optimizer, scheduler, 1)
    state = optimizer.state_dict()["state"]
    quant = [entry.get("__bnb_optimizer_quant_state__") or {} for entry in state.values()]
    qmaps = [entry["qmap1"] for entry in quant if "qmap1" in entry]
    assert len(qmaps) >= 2 and qmaps[0].data_ptr() == qmaps[1].data_ptr()  # the shared map that broke saving
    checkpoints.save_checkpoint(tmp_path, 1, model=model, optimizer=optimizer, scheduler=scheduler, state={})
    _step(model, optimizer, scheduler, 2)
    expected = [p.detach().clone() for p in model.parameters()]

    model2, optimizer2, scheduler2 = _setup(name)
    checkpoint = checkpoints.latest_checkpoint(tmp_path)
    assert checkpoint is not None and checkpoint.step == 1
    checkpoints.load_checkpoint(checkpoint, model=model2, optimizer=optimizer2, scheduler=scheduler2)
    # only the adapter (here every parameter, all trainable) is restored from the checkpoint
    _step(model2, optimizer2, scheduler2, 2)
    assert all(torch.equal(a, b) for a, b in zip(expected, model2.parameters(), strict=True))
