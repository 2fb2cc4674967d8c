"""book.models.resnet: ResNet-18's published size and torchvision's parameter names."""
import pytest
import torch

from book.counting.params import count_parameters
from book.models.resnet import ResNet18


def test_resnet18_has_the_published_parameter_count():
    # 11,689,512 with the 1000-class head (He et al. 2016; torchvision's resnet18)
    assert count_parameters(ResNet18()) == 11_689_512


def test_names_follow_torchvision_and_the_head_can_be_replaced():
    model = ResNet18()
    keys = list(model.state_dict())
    assert keys[:2] == ["conv1.weight", "bn1.weight"]
    assert "layer2.0.downsample.0.weight" in keys and "layer1.0.downsample.0.weight" not in keys
    assert keys[-2:] == ["fc.weight", "fc.bias"]
    model.fc = torch.nn.Linear(model.fc.in_features, 10)
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 10)
    assert count_parameters(model) == 11_689_512 - 1000 * 513 + 10 * 513


def test_wrong_channels_are_refused():
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        ResNet18()(torch.randn(2, 1, 32, 32))
    with pytest.raises(ValueError):
        ResNet18(num_classes=0)
