"""The torch-free GPU count the workflow uses to decide whether `device: auto` asks for GPUs."""

from neuromodels.core.gpus import visible_gpus


def _driver(tmp_path, n):
    root = tmp_path / "gpus"
    root.parent.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (root / f"0000:0{i}:00.0").mkdir(parents=True)
    root.mkdir(exist_ok=True)
    return root


def test_no_driver_means_no_gpu(tmp_path):
    assert visible_gpus(tmp_path / "absent", environ={}) == 0


def test_counts_driver_devices(tmp_path):
    assert visible_gpus(_driver(tmp_path, 3), environ={}) == 3
    assert visible_gpus(_driver(tmp_path / "none", 0), environ={}) == 0


def test_cuda_visible_devices_limits_the_count(tmp_path):
    root = _driver(tmp_path, 4)
    assert visible_gpus(root, environ={"CUDA_VISIBLE_DEVICES": "2,3"}) == 2
    assert visible_gpus(root, environ={"CUDA_VISIBLE_DEVICES": ""}) == 0
    assert visible_gpus(root, environ={"CUDA_VISIBLE_DEVICES": "-1"}) == 0
    assert visible_gpus(root, environ={"CUDA_VISIBLE_DEVICES": "0,-1,1"}) == 1
    # more names than devices: only the devices there are
    assert visible_gpus(_driver(tmp_path / "one", 1), environ={"CUDA_VISIBLE_DEVICES": "0,1"}) == 1
