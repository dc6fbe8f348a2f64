"""One exception base; the CLI turns every subclass into one line on stderr and exit code 2."""

import errno
import re


class SeqsweepError(Exception):
    """Base of every error a user can fix. Its message is one line that names what to fix."""


class ConfigError(SeqsweepError):
    """A sweep file or dataset spec breaks a rule (unknown key, value out of range, ...)."""


class DataError(SeqsweepError):
    """The database or the data in it cannot give the dataset that the spec asks for."""


class DateCutError(DataError):
    """The rows cannot be cut by date in SQL (a start/end bound, the latest rows): the `date` column is
    text that SQL compares as text, not as time. A whole-table read, parsed in Python, is unaffected."""


class AmbiguousCommaError(DataError):
    """Every comma-grouped value a read met is like 6,406 (thousands separator or decimal comma?). A read of
    only the latest rows may meet none of the values that decide it (1,234,567 or 6,179.90) that a read of
    all the symbol's rows meets, so such a read asks again for all of them before refusing."""


class AmbiguousDateError(DataError):
    """Day-first and month-first formats both read every text date a read met, differently (02/01/2024).
    A file read in chunks may hold the value that decides it (13/01/2024) in a later chunk, so `load-csv`
    settles the order over the whole column (`DateReader.settled`) before refusing."""


class UnknownModelError(ConfigError):
    """A sweep names a model family that is neither built in nor an importable `module:function`."""


class NoValidTrialsError(SeqsweepError):
    """An experiment has no trial that finished with a finite validation score."""

    def __init__(self, message: str, unranked: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.unranked = unranked
        """One line per trial that cannot be ranked: its id, status and error (`results` prints them, so
        an experiment whose every trial errored still says why each one did)."""


class TrialError(SeqsweepError):
    """A single trial cannot go on (a NaN loss, say). It fails that trial, never the sweep."""


def message_of(error: BaseException) -> str:
    """`str(error)`; when the exception's own `__str__` raises (a user's exception class), a text saying so,
    where the error of that `__str__` was shown instead of the user's exception (or ended the command)."""
    try:
        return str(error)
    except Exception as inner:
        return f"<its str() raised {type(inner).__name__}>"


def root_cause(exc: BaseException) -> BaseException:
    """The exception at the bottom of `exc`'s chain: Ray's wrappers (`RayTaskError.cause`, Ray Data's
    `UserCodeException` and `__cause__`) carry the task's own exception, and their text carries its
    traceback, which the one-line message must not."""
    seen = {id(exc)}
    while True:
        inner = getattr(exc, "cause", None)
        if not isinstance(inner, BaseException):
            inner = exc.__cause__
        if inner is None or id(inner) in seen:
            return exc
        seen.add(id(inner))
        exc = inner


def exception_text(text: str) -> str:
    """The exception's own lines of an error text that carries a traceback (Ray's errors do): what follows
    the last `File "...", line N` frame and its source line, joined into one line; `text` itself when it
    holds no frame. A message of several lines ("units=4 is not supported\n  hint: ...") keeps its first
    line, which names the problem, where taking the text's last line kept "hint: ..." only."""
    lines = text.splitlines()
    frames = [i for i, line in enumerate(lines) if line.lstrip().startswith(('File "', "Traceback "))]
    if not frames:
        return " ".join(text.split())
    rest = [line for line in lines[frames[-1] + 1 :] if line.strip() and not line.startswith("    ")]
    return " ".join(" ".join(rest).split()) if rest else lines[-1].strip()


_ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def _carries_traceback(error: BaseException) -> bool:
    """Whether `error`'s text is a whole traceback: Ray's wrappers (`ray::task() (pid=...)` then frames)
    and an exception carried as text (`Traceback (most recent call last):` ... `Type: message`)."""
    head = _ANSI_COLOUR.sub("", message_of(error)).lstrip()  # Ray colours its `ray::task()` header
    return type(error).__module__.startswith("ray.") or head.startswith(
        ("Traceback (most recent call", "ray::")
    )


_WORKER_DIED = re.compile(
    r"\bpid: (?P<pid>\d+)\b.*?worker process has died\. Worker exit type: \S+ "
    r"Worker exit detail: (?P<detail>.+?)(?: Some common causes include:|$)"
)
"""Ray's text of an `ActorDiedError` whose worker process died: its pid and Ray's exit detail, before Ray's
paragraph of causes and cluster advice."""


def worker_death_line(error: BaseException) -> str | None:
    """One line for a Ray actor whose worker process died (`ray.exceptions.ActorDiedError`: the OOM killer,
    a crash in native code, an `os._exit()` in a user's code), naming what can end a worker so; None for
    any other error. Ray's own text is actor and namespace ids, then a paragraph of cluster advice that
    the 500-character cut left half-way through."""
    if type(error).__name__ != "ActorDiedError" or not type(error).__module__.startswith("ray."):
        return None
    found = _WORKER_DIED.search(" ".join(message_of(error).split()))
    if found is None:
        return None
    return (
        f"ActorDiedError: its worker process (pid {found['pid']}) died ({found['detail'].rstrip('.')}): "
        "killed by the OOM killer (give each trial more memory or run fewer at once), a crash in native "
        "code, or an os._exit() in the trial's code"
    )


ERROR_LINE_LENGTH = 500
"""Characters an error line keeps of a message (a trial's exception may carry a whole array's repr)."""


def error_line(error: BaseException) -> str:
    """One line for an error raised elsewhere (a trial, a Ray task): "Type: message" of the exception at
    the bottom of its chain (`root_cause`), its lines joined, or, when only Ray's wrapper travelled (a
    `ray.` exception whose text is the traceback), the exception's lines at the end of that traceback
    (`exception_text`); a worker process that died, in a sentence (`worker_death_line`). Passwords are hidden (`db_url.scrub`: a user's exception may quote a database
    URL) and the line is cut at `ERROR_LINE_LENGTH` characters."""
    from seqsweep.db_url import scrub

    root = root_cause(error)
    raw = " ".join(message_of(root).split())
    died = worker_death_line(root)
    if died is not None:
        line = died
    elif _carries_traceback(root) and exception_text(message_of(root)) != raw:
        line = exception_text(message_of(root))  # the traceback's last exception, which names its own type
    else:  # the exception itself, whatever its message quotes ('File "layers.py", line 12' of a trace)
        line = f"{type(root).__name__}: {raw}" if raw else type(root).__name__
    line = scrub(line)
    return line if len(line) <= ERROR_LINE_LENGTH else line[: ERROR_LINE_LENGTH - 1] + "…"


NOT_OPENED: dict[int, str] = {
    errno.ENOENT: "it was moved or deleted: put it back, or name the file where it is now",
    errno.EISDIR: "it is a folder: name the file in it",
    errno.EACCES: "give yourself read access to it",
    errno.EPERM: "give yourself read access to it",
}
"""OS errors (errno) of a file that could not be opened at all, and what to do about each."""


def not_opened_line(error: BaseException) -> str | None:
    """One line for an `OSError` of a file that could not be opened (`NOT_OPENED`: gone, a folder, not
    readable): "cannot open PATH: the system's words; what to do"; None for any other error."""
    if not isinstance(error, OSError) or error.errno not in NOT_OPENED:
        return None
    where = f" {error.filename}" if error.filename is not None else ""
    return f"cannot open{where}: {error.strerror}; {NOT_OPENED[error.errno]}"
