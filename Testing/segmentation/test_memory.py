"""Memory estimates: refuse early with advice, shrink the batch when it is the batch that does not fit."""

import pytest

from segthor.inference import memory
from segthor.inference.memory import MemoryEstimateError, fit_batch_size, require_memory


def test_available_memory_is_known_here():
    assert memory.available_bytes("cpu") > 0


def test_too_large_is_refused_with_advice(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda device="cpu": 1 * memory.GIB)
    with pytest.raises(MemoryEstimateError, match=r"needs about 5\.0 GiB.*close other programs"):
        require_memory(5 * memory.GIB, "cpu", "this CT")
    require_memory(int(0.5 * memory.GIB), "cpu", "this CT")


def test_batch_shrinks_to_fit(monkeypatch):
    from segthor.inference.inferers import SliceInferer, SlidingWindowInferer

    shape = (200, 256, 256)
    inferer = SliceInferer()
    one_slice = inferer.network_bytes(shape, 1)
    eight = inferer.network_bytes(shape, 8)
    monkeypatch.setattr(memory, "available_bytes", lambda device="cpu": int((one_slice + eight) / 2 / 0.8))
    size = inferer.fit_batch_size(shape, 8, "cpu")
    assert 1 <= size < 8
    assert fit_batch_size(lambda n: inferer.network_bytes(shape, n), 8, "cpu") == size
    monkeypatch.setattr(memory, "available_bytes", lambda device="cpu": one_slice // 2)
    with pytest.raises(MemoryEstimateError):
        inferer.fit_batch_size(shape, 8, "cpu")
    # The 3D inferer runs one window per call; a window that does not fit is refused with advice.
    window = SlidingWindowInferer()
    monkeypatch.setattr(memory, "available_bytes", lambda device="cpu": window.network_bytes(shape) * 2)
    assert window.fit_batch_size(shape, 8, "cpu") == 1
    monkeypatch.setattr(memory, "available_bytes", lambda device="cpu": window.network_bytes(shape) // 2)
    with pytest.raises(MemoryEstimateError, match="the network"):
        window.fit_batch_size(shape, 8, "cpu")


def test_a_file_too_large_is_refused_before_reading(monkeypatch, tmp_path):
    import SimpleITK as sitk

    from segthor.logic import SegmentationLogic

    path = tmp_path / "big.nrrd"
    sitk.WriteImage(sitk.Image([64, 64, 32], sitk.sitkInt16), str(path))
    assert memory.image_file_shape(path) == (32, 64, 64)
    monkeypatch.setattr(memory, "available_bytes", lambda device="cpu": 1000)
    with pytest.raises(MemoryEstimateError, match=r"big\.nrrd \(64x64x32\)"):
        SegmentationLogic("any-model", "cpu").segment_file(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()
