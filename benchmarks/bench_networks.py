"""Networks: parameter counts against the seed papers, CPU inference speed with baselines in the same run.

    .venv/bin/python benchmarks/bench_networks.py [--quick] [--with-unet] [--threads 2]

Prints, for each 2D net, ms per 256x256 slice (batch 8, inference mode) in NCHW (baseline) and
channels_last, and for ENet also with batch norms folded into the convs; the projected network time for a
512x512x200 CT resampled to ~2 mm in-plane (~256x256 slices, 200 of them); and the coarse-to-fine 3D net
on a 64x128x128 volume. Each figure is the best of several repetitions (the machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import copy
import time

import torch

from segthor.networks import build_network, count_parameters, fuse_batch_norms


def best_ms(net: torch.nn.Module, x: torch.Tensor, repeats: int) -> float:
    with torch.inference_mode():
        net(x)  # warm-up: allocator, oneDNN primitive cache
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            net(x)
            times.append(time.perf_counter() - start)
    return min(times) * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--with-unet", action="store_true", help="also time the 53.7 M-parameter U-Net baseline")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    repeats = 2 if args.quick else 4
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU\n")

    print("Parameter counts (1 input channel, 5 classes)")
    paper = {("sunet", "bilinear"): "4.8 M ([Lambert2020])", ("sunet", "transposed"): "7.2 M ([Lambert2020])"}
    rows = [
        ("sunet", {"upsampling": "bilinear"}),
        ("sunet", {"upsampling": "transposed"}),
        ("unet", {}),
        ("sunet_se_ca", {}),
        ("enet", {"base_width": 16}),
        ("enet", {"base_width": 32}),
        ("enet", {"base_width": 64}),
        ("c2f3d", {}),
    ]
    for name, kw in rows:
        n = count_parameters(build_network(name, **kw))
        ref = paper.get((name, kw.get("upsampling")), "0.37 M (Paszke)" if kw.get("base_width") == 16 else "")
        print(f"  {name:<12} {str(kw):<28} {n:>11,}  {ref}")

    print("\n2D inference, ms per 256x256 slice (batch 8), best of", repeats)
    print(f"  {'net':<24} {'NCHW':>8} {'ch_last':>8} {'ratio':>6} {'fused BN':>9}  200 slices (best)")
    x = torch.randn(8, 1, 256, 256)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    nets = [
        ("enet K=16", "enet", {}),
        ("enet K=32", "enet", {"base_width": 32}),
        ("sunet", "sunet", {}),
        ("sunet_se_ca", "sunet_se_ca", {}),
    ]
    if args.with_unet:
        nets.append(("unet", "unet", {}))
    for label, name, kw in nets:
        net = build_network(name, **kw).eval()
        plain = best_ms(net, x, repeats) / 8
        cl_net = copy.deepcopy(net).to(memory_format=torch.channels_last)
        cl = best_ms(cl_net, x_cl, repeats) / 8
        fused = best_ms(fuse_batch_norms(copy.deepcopy(net)), x, repeats) / 8 if name == "enet" else None
        best = min(v for v in (plain, cl, fused) if v is not None)
        fused_text = f"{fused:>9.1f}" if fused is not None else f"{'-':>9}"
        print(f"  {label:<24} {plain:>8.1f} {cl:>8.1f} {plain / cl:>5.2f}x {fused_text}  {best * 200 / 1000:6.1f} s")

    print("\nCoarse-to-fine 3D, one 64x128x128 (z, y, x) volume, default widths")
    net = build_network("c2f3d").eval()
    vol = torch.randn(1, 1, 64, 128, 128)
    encode_ms = best_ms(lambda v: net.encode(v), vol, max(repeats // 2, 1))
    full_ms = best_ms(net, vol, max(repeats // 2, 1))
    print(f"  encoder + coarse decoder {encode_ms / 1000:6.2f} s")
    print(f"  full coarse-to-fine      {full_ms / 1000:6.2f} s  (random weights: ROIs ~ whole volume, worst case)")


if __name__ == "__main__":
    main()
