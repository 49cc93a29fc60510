"""Training throughput (slices/s) of each 2D net: channels_last (what the trainer uses on CPU) against the
plain NCHW layout as the in-process baseline, on a fast2d-sized batch. Also the data side: one augmented batch.

    .venv/bin/python benchmarks/bench_training.py [--size 160] [--batch 4] [--steps 5] [--threads N]
                                                  [--with-unet] [--device auto]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from segthor.devices import resolve_device
from segthor.networks import build_network
from segthor_training.augment import AugmentConfig, augment
from segthor_training.losses import DiceCELoss

NETS = {
    "enet": {"base_width": 16},
    "sunet": {},
    "sunet_se_ca": {},
    "unet": {},
}


def slices_per_second(
    name: str,
    arguments: dict,
    size: int,
    batch: int,
    steps: int,
    device: torch.device,
    channels_last: bool,
    amp: bool = False,
) -> float:
    torch.manual_seed(0)
    net = build_network(name, **arguments).to(device).train()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    net = net.to(memory_format=fmt)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    loss_fn = DiceCELoss()
    x = torch.randn(batch, 1, size, size, device=device).contiguous(memory_format=fmt)
    y = torch.randint(0, 5, (batch, size, size), device=device)

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.float16 if device.type == "cuda" else torch.bfloat16, enabled=amp):
            out = net(x)
        loss = loss_fn(out.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(2):  # warm-up: the first steps allocate and pick kernels (several times slower)
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - start)


def augment_batches_per_second(size: int, batch: int, repeats: int = 5) -> float:
    rng = np.random.default_rng(0)
    image = rng.normal(size=(size, size)).astype(np.float32)
    labels = (rng.random((size, size)) > 0.9).astype(np.uint8)
    cfg = AugmentConfig(affine_probability=1.0, elastic_probability=1.0)
    start = time.perf_counter()
    for _ in range(repeats * batch):
        augment(image, labels, rng, cfg)
    return repeats / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--nets", default="enet,sunet,sunet_se_ca")
    parser.add_argument("--with-unet", action="store_true", help="also the 53.7 M-parameter U-Net (slow)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.with_unet:
        args.nets += ",unet"
    device = resolve_device(args.device)
    print(
        f"training throughput, {args.size}x{args.size} slices, batch {args.batch}, {args.steps} timed steps, "
        f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    print(f"{'net':<12} {'NCHW sl/s':>10} {'ch_last sl/s':>13} {'ratio':>6}", end="")
    print(f" {'amp sl/s':>9} {'ratio':>6}" if device.type == "cuda" else "")
    for name in args.nets.split(","):
        base = slices_per_second(name, NETS[name], args.size, args.batch, args.steps, device, False)
        last = slices_per_second(name, NETS[name], args.size, args.batch, args.steps, device, True)
        line = f"{name:<12} {base:>10.2f} {last:>13.2f} {last / base:>5.2f}x"
        if device.type == "cuda":
            amp = slices_per_second(name, NETS[name], args.size, args.batch, args.steps, device, True, amp=True)
            line += f" {amp:>9.2f} {amp / last:>5.2f}x"
        print(line, flush=True)
    print(
        f"augmentation (affine + 2x2 B-spline, SimpleITK): {augment_batches_per_second(args.size, args.batch):.1f}"
        f" batches/s of {args.batch}"
    )


if __name__ == "__main__":
    main()
