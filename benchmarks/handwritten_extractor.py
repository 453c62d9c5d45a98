"""A careful hand-written ResNet-50 feature extractor: the yardstick of bench_extract_features.py.

Plain PyTorch with the techniques the routine claims (Pillow JPEG draft decoding, decoding
workers, channels_last, autocast, inference_mode, pinned memory on CUDA), none of the routine's
bookkeeping (no store manifest, resume, skipping of bad files, progress). Grid features
(2048 x S/32 x S/32) of every photo in a folder, in name order, into one float16 ``.npy``::

    python benchmarks/handwritten_extractor.py DIR OUT.npy [--precision fp32|bf16|fp16]
        [--image-size 224] [--batch-size 32] [--workers N] [--device cpu|cuda]
"""

import argparse
import os
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image, ImageOps

MEAN, STD = torch.tensor([0.485, 0.456, 0.406]) * 255, torch.tensor([0.229, 0.224, 0.225]) * 255


class Photos(torch.utils.data.Dataset):
    def __init__(self, files, size):
        self.files, self.size = files, size

    def __len__(self):
        return len(self.files)

    def __getitem__(self, index):
        with Image.open(self.files[index]) as image:
            image.draft("RGB", (self.size, self.size))  # JPEG: decode at 1/2, 1/4, 1/8 when that suffices
            image = ImageOps.exif_transpose(image).convert("RGB")
        scale = self.size / min(image.size)
        width, height = max(self.size, round(image.width * scale)), max(self.size, round(image.height * scale))
        image = image.resize((width, height), Image.Resampling.BILINEAR)
        left, top = (width - self.size) // 2, (height - self.size) // 2
        image = image.crop((left, top, left + self.size, top + self.size))
        return torch.from_numpy(np.asarray(image).copy())  # (S, S, 3) uint8: channels_last once batched


def main():
    parser = argparse.ArgumentParser()
    for name in ("images", "out"):
        parser.add_argument(name)
    parser.add_argument("--precision", default="bf16", choices=("fp32", "bf16", "fp16"))
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    files = sorted(p for p in Path(args.images).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    torch.manual_seed(0)
    resnet = torchvision.models.resnet50(weights=None)
    network = torch.nn.Sequential(*list(resnet.children())[:-2]).eval().to(device, memory_format=torch.channels_last)
    loader = torch.utils.data.DataLoader(Photos(files, args.image_size), batch_size=args.batch_size,
                                         num_workers=args.workers, pin_memory=device.type == "cuda")
    side = args.image_size // 32
    out = np.lib.format.open_memmap(args.out, mode="w+", dtype=np.float16, shape=(len(files), 2048, side, side))
    mean, std = MEAN.to(device).view(1, 3, 1, 1), STD.to(device).view(1, 3, 1, 1)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(args.precision)
    row = 0
    with torch.inference_mode(), torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
        for batch in loader:  # (B, S, S, 3) uint8
            pixels = batch.to(device, non_blocking=True).permute(0, 3, 1, 2).float()  # NCHW view, NHWC memory
            features = network((pixels - mean) / std)
            out[row:row + len(batch)] = features.to(torch.float16).cpu().numpy()
            row += len(batch)
    out.flush()


if __name__ == "__main__":
    main()
