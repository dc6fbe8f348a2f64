"""Ray Data's log files written as UTF-8 whatever the locale.

Ray Data writes its records to `<ray session>/logs/ray-data/ray-data.log` (the `file` handler of
`ray_data_logging.yaml`, or of Ray Data's default config under `-v`) and to one
`ray-data-<dataset>.log` per dataset, in the driver and in every worker that runs one of its tasks.
Ray's `SessionFileHandler` opens those files in the locale's encoding except on Windows. Under a C
or POSIX locale without Python's UTF-8 mode (`LC_ALL=C PYTHONUTF8=0`, or any ASCII locale) the
`✔️` of its "Dataset ... execution finished" line, or a symbol or path with non-ASCII text, raised
UnicodeEncodeError in the handler: `--- Logging error ---` and a traceback on the terminal, and
the line missing from both files.

`write_ray_data_logs_as_utf8` makes Ray Data build `Utf8SessionFileHandler` instead, in this
process: `seqsweep.data.build` calls it in the driver before a dataset runs and in each task.
"""

from __future__ import annotations

import logging
from typing import Any

import ray.data
from ray.data._internal import logging as ray_data_logging
from ray.data._internal.logging import SessionFileHandler

__all__ = ["Utf8SessionFileHandler", "write_ray_data_logs_as_utf8"]


class Utf8SessionFileHandler(SessionFileHandler):
    """Ray Data's `SessionFileHandler` (same arguments, same lazily created file in the session's
    `logs/ray-data/`), its file opened as UTF-8 on every platform."""

    def __init__(self, filename: str, **kwargs: Any) -> None:
        # Ray 2.60 opens the file as UTF-8 when `platform` is win32 (ray-project/ray#49527) and in the
        # locale's encoding otherwise; `platform` decides nothing else
        super().__init__(filename, **{**kwargs, "platform": "win32"})


def _ray_data_loggers() -> list[logging.Logger]:
    """`ray.data` and the loggers under it that exist in this process."""
    names = [name for name in logging.root.manager.loggerDict if name.startswith("ray.data.")]
    return [logging.getLogger("ray.data"), *(logging.getLogger(name) for name in names)]


def write_ray_data_logs_as_utf8() -> None:
    """Make every Ray Data log file this process writes from now on UTF-8 (`Utf8SessionFileHandler`).

    Ray Data names its handler class `ray.data._internal.logging.SessionFileHandler` (its config's
    `file` handler, looked up by that path whenever it configures logging, and each dataset's own
    file); that name is pointed at `Utf8SessionFileHandler`. Handlers Ray Data built before are
    replaced: its logging is configured again (`configure_logging`, what it does itself as a
    worker meets a new dataset) and, in a worker running a dataset's task, that dataset's file is
    attached again (`update_dataset_logger_for_worker`). The replaced handlers are closed. Call it
    in the driver before a dataset runs (a running dataset's own file in the driver would be
    detached) and at the start of a task; once done, a call costs a scan of the loggers.
    """
    ray_data_logging.SessionFileHandler = Utf8SessionFileHandler  # type: ignore[misc]  # rebound on purpose
    stale = [
        handler
        for logger in _ray_data_loggers()
        for handler in logger.handlers
        if isinstance(handler, SessionFileHandler) and not isinstance(handler, Utf8SessionFileHandler)
    ]
    if not stale:
        return
    # the driver's context names no dataset (each dataset runs on a copy); a worker's names the one
    # whose task it runs (`DataContext._set_current`)
    dataset = ray.data.DataContext.get_current().dataset_logger_id
    if dataset:
        ray_data_logging.update_dataset_logger_for_worker(dataset)
    else:
        ray_data_logging.configure_logging()
    for handler in stale:
        for logger in _ray_data_loggers():
            logger.removeHandler(handler)
        handler.close()
