"""Ray Data's log files are written through `Utf8SessionFileHandler`, in the driver and in its tasks."""

from __future__ import annotations

import numpy as np


def test_ray_data_writes_its_log_files_as_utf_8_in_the_driver_and_in_a_task(ray_cluster: object) -> None:
    """A worker configures Ray Data's logging itself as it meets a dataset (the config's `file` handler,
    then the dataset's own file), in the locale's encoding; after `write_ray_data_logs_as_utf8` in the
    task both are `Utf8SessionFileHandler`, as the driver's `file` handler is after the call there."""
    import ray.data

    from seqsweep.cluster.ray_data_logs import write_ray_data_logs_as_utf8

    def file_handlers() -> list[tuple[str, str]]:
        """(class, handler name) of each Ray Data log-file handler on `ray.data`: Ray's `SessionFileHandler`
        or a subclass (by name: Ray Data's own name for it is patched). Defined here: a task cannot
        import this test module."""
        import logging

        handlers = logging.getLogger("ray.data").handlers
        files = [h for h in handlers if "SessionFileHandler" in {c.__name__ for c in type(h).__mro__}]
        return sorted((type(h).__name__, h.name or "") for h in files)

    def handlers_in_task(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        write_ray_data_logs_as_utf8()
        return {"handlers": np.array([repr(file_handlers())])}

    write_ray_data_logs_as_utf8()
    assert file_handlers() == [("Utf8SessionFileHandler", "file")]
    dataset = ray.data.range(1).map_batches(handlers_in_task, batch_size=1)  # type: ignore[arg-type]
    (in_task,) = [row["handlers"] for row in dataset.take_all()]
    assert in_task == repr([("Utf8SessionFileHandler", ""), ("Utf8SessionFileHandler", "file")])


def test_the_ray_data_logging_config_is_ascii() -> None:
    """Ray Data reads `RAY_DATA_LOGGING_CONFIG` in the locale's encoding: a non-ASCII character in it
    would stop every process that imports Ray Data under an ASCII locale."""
    from seqsweep.cli import RAY_DATA_QUIET_LOGGING

    assert RAY_DATA_QUIET_LOGGING.read_bytes().isascii()
