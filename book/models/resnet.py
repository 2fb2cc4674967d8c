"""ResNet-18 written out in ``torch.nn``, so that chapter 10 can show the architecture
without torchvision and without downloading weights.

The layout is that of He et al. (2016) and of ``torchvision.models.resnet18``,
with the same parameter names (``conv1``, ``bn1``, ``layer1.0.conv1``, ...,
``fc``), so its ``state_dict`` has the same keys and shapes, and 11,689,512
parameters with the 1000-class ImageNet head:

* a stem: 7x7 convolution with stride 2 (64 channels), BatchNorm, ReLU, 3x3
  max-pool with stride 2;
* four stages of two *basic blocks* each, with 64, 128, 256 and 512 channels;
  the first block of stages 2-4 halves the height and width (stride 2) and
  its shortcut is a 1x1 convolution with BatchNorm (``downsample``);
* global average pooling and the linear head ``fc``.

A basic block computes ``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``:
the residual connection of chapter 4.
"""
from __future__ import annotations

from torch import nn

from book.checks import positive_int


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm, added to the input (or to its 1x1 projection)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            # The shortcut must change shape too: a strided 1x1 convolution.
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x):
        shortcut = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(y)) + shortcut)


class ResNet18(nn.Module):
    """ResNet-18 for images of shape ``(N, in_channels, H, W)``; ``num_classes`` outputs.

    Randomly initialised (torch's defaults): this module never loads weights.
    Replace ``fc`` to give it a new head, as transfer learning does.
    """

    def __init__(self, num_classes: int = 1000, in_channels: int = 3):
        super().__init__()
        num_classes = positive_int(num_classes, "num_classes", owner="ResNet18")
        in_channels = positive_int(in_channels, "in_channels", owner="ResNet18")
        self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        stages, channels = [], 64
        for width, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            stages.append(nn.Sequential(BasicBlock(channels, width, stride), BasicBlock(width, width)))
            channels = width
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.conv1.in_channels:
            raise ValueError(f"ResNet18: expected images of shape (N, {self.conv1.in_channels}, H, W), "
                             f"got {tuple(x.shape)}")
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


__all__ = ["BasicBlock", "ResNet18"]
