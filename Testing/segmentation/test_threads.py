"""Thread-count choice by measurement: one thread wins when extra threads only wait, the default otherwise."""

import time

import pytest
import torch

from segthor.inference.threads import choose_threads


@pytest.mark.parametrize(("slow_with", "expected"), [(2, 1), (1, 2)])
def test_the_faster_thread_count_is_kept(slow_with, expected):
    torch.set_num_threads(2)  # the autouse fixture restores the previous count

    def run_once():
        time.sleep(0.02 if torch.get_num_threads() == slow_with else 0.001)

    assert choose_threads(run_once, torch.device("cpu")) == expected
    assert torch.get_num_threads() == expected


def test_gpu_and_single_thread_keep_the_default():
    torch.set_num_threads(2)
    calls = []
    assert choose_threads(lambda: calls.append(1), torch.device("cuda")) == 2
    torch.set_num_threads(1)
    assert choose_threads(lambda: calls.append(1), torch.device("cpu")) == 1
    assert calls == []
