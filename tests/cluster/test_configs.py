"""The ready-to-edit cluster configurations parse and say what the README promises."""

from __future__ import annotations

from pathlib import Path

import yaml

CLUSTER = Path(__file__).parents[2] / "cluster"


def test_launcher_has_a_cpu_head_and_autoscaled_gpu_workers() -> None:
    config = yaml.safe_load((CLUSTER / "ray-cluster.aws.yaml").read_text())
    head = config["available_node_types"][config["head_node_type"]]
    assert head["resources"] == {"CPU": 0}
    workers = [t for name, t in config["available_node_types"].items() if name != config["head_node_type"]]
    assert workers and all(w["max_workers"] > w["min_workers"] for w in workers)
    assert any("requirements-gpu.txt" in cmd for cmd in config["setup_commands"])
    assert not any("6379" in cmd for cmd in config["head_start_ray_commands"])


def test_kuberay_manifest_mounts_shared_storage_on_every_pod() -> None:
    cluster, claim = yaml.safe_load_all((CLUSTER / "kuberay-raycluster.yaml").read_text())
    assert cluster["kind"] == "RayCluster" and cluster["spec"]["rayVersion"] == "2.60.0"
    pods = [cluster["spec"]["headGroupSpec"]["template"]] + [
        g["template"] for g in cluster["spec"]["workerGroupSpecs"]
    ]
    for pod in pods:
        mounts = {m["mountPath"] for c in pod["spec"]["containers"] for m in c["volumeMounts"]}
        assert "/mnt/shared" in mounts
    gpu_limits = [
        g["template"]["spec"]["containers"][0]["resources"]["limits"]
        for g in cluster["spec"]["workerGroupSpecs"]
    ]
    assert all("nvidia.com/gpu" in limits for limits in gpu_limits)
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]


def test_heads_get_the_database_url_from_a_secret_not_from_the_job() -> None:
    launcher = yaml.safe_load((CLUSTER / "ray-cluster.aws.yaml").read_text())
    start = next(cmd for cmd in launcher["head_start_ray_commands"] if "ray start --head" in cmd)
    assert start.startswith("export SEQSWEEP_DB_URL=") and "secretsmanager" in start
    cluster, _ = yaml.safe_load_all((CLUSTER / "kuberay-raycluster.yaml").read_text())
    head = cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in head["env"]}
    assert env["SEQSWEEP_DB_URL"]["valueFrom"]["secretKeyRef"]["key"] == "url"


def test_gpu_requirements_never_mix_tensorflow_and_tensorflow_cpu() -> None:
    lines = [ln.strip() for ln in (CLUSTER / "requirements-gpu.txt").read_text().splitlines()]
    packages = [ln.split("==")[0].split("[")[0] for ln in lines if ln and not ln.startswith(("#", "--"))]
    assert "tensorflow" in packages and "tensorflow-cpu" not in packages
