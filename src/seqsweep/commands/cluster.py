"""`seqsweep submit`, `seqsweep status`, `seqsweep logs`: sweeps as Ray Jobs on a shared cluster."""

from __future__ import annotations

import argparse
import os
import sys

ADDRESS_ENV = "RAY_ADDRESS"
"""Ray's own variable for the Jobs API address, used when --address is not given."""


def register(subparsers: argparse._SubParsersAction) -> None:
    from seqsweep.commands.run import add_override_argument

    submit = subparsers.add_parser("submit", help="submit a sweep to a Ray cluster as a Ray Job")
    submit.add_argument("sweep", help="sweep file path or built-in name")
    _address(submit)
    submit.add_argument("--storage", help="shared storage path (NFS path or s3://, gs:// URI)")
    submit.add_argument("--db", help="SQLAlchemy database URL reachable from the cluster")
    add_override_argument(submit)
    submit.set_defaults(func=submit_command)

    status = subparsers.add_parser("status", help="status of a submitted sweep job")
    status.add_argument("job_id")
    _address(status)
    status.set_defaults(func=status_command)

    logs = subparsers.add_parser("logs", help="driver output of a submitted sweep job")
    logs.add_argument("job_id")
    _address(logs)
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing until the job ends")
    logs.set_defaults(func=logs_command)


def _address(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--address",
        default=os.environ.get(ADDRESS_ENV) or None,  # set but empty: `_require_address` names it
        help=f"Jobs API of the head, http://HEAD:8265 (default: ${ADDRESS_ENV})",
    )


def _require_address(args: argparse.Namespace) -> str:
    from seqsweep.errors import ConfigError

    if not args.address:
        raise ConfigError(f"--address: name the cluster's Jobs API (http://HEAD:8265) or set ${ADDRESS_ENV}")
    return str(args.address)


def submit_command(args: argparse.Namespace) -> int:
    from seqsweep.cluster.jobs import submit_sweep
    from seqsweep.commands.run import load_with_overrides
    from seqsweep.constants import DB_URL_ENV
    from seqsweep.search_spaces.credentials import has_password

    spec = load_with_overrides(args)
    job_id = submit_sweep(spec, _require_address(args), storage=args.storage)
    if has_password(spec):
        print(
            f"note: the database password was not sent with the job; its driver reads the URL from "
            f"${DB_URL_ENV} on the head node",
            file=sys.stderr,
        )
    print(job_id)
    return 0


def status_command(args: argparse.Namespace) -> int:
    from seqsweep.cluster.jobs import job_status

    print(job_status(_require_address(args), args.job_id).rsplit(".", 1)[-1])
    return 0


def logs_command(args: argparse.Namespace) -> int:
    from seqsweep.cluster.jobs import job_logs

    for chunk in job_logs(_require_address(args), args.job_id, follow=args.follow):
        sys.stdout.write(chunk)
        sys.stdout.flush()
    return 0
