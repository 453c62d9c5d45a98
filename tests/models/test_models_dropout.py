"""``vqadesk.models.dropout.Dropout``: nn.Dropout's behaviour with a cheaper mask on the CPU."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vqadesk.models.dropout import Dropout

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("p", [0.3, 0.5])
def test_keeps_one_minus_p_of_the_elements_scaled_and_routes_the_gradient_through_them(dtype, p):
    torch.manual_seed(0)
    x = torch.ones(400, 500, dtype=dtype, requires_grad=True)
    y = Dropout(p).train()(x)
    assert y.dtype == dtype and y.shape == x.shape
    kept = y != 0
    share = kept.float().mean().item()
    assert abs(share - (1 - p)) < 0.005  # 200,000 draws: the standard error is ~0.001
    assert torch.allclose(y[kept].float(), torch.full_like(y[kept].float(), 1 / (1 - p)), rtol=1e-2)
    y.sum().backward()
    assert torch.equal(x.grad != 0, kept) and torch.allclose(x.grad.float()[kept], y.float()[kept], rtol=1e-2)


def test_is_the_identity_in_eval_mode_and_reproducible_under_a_seed():
    x = torch.randn(64, 32)
    layer = Dropout(0.5)
    assert torch.equal(layer.eval()(x), x)
    layer.train()
    torch.manual_seed(3)
    first = layer(x)
    torch.manual_seed(3)
    assert torch.equal(layer(x), first) and not torch.equal(first, x)


def test_is_an_nn_dropout_with_its_state_and_repr():
    layer = Dropout(0.25)
    assert isinstance(layer, nn.Dropout) and repr(layer) == repr(nn.Dropout(0.25)) and layer.state_dict() == {}
