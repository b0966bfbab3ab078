"""A real S3-compatible server for the tests: moto's server mode on a loopback port.

Started and stopped by the tests themselves (`moto[server]` is in the dev extra); every request
goes over HTTP, so the code under test talks to it exactly as it would to S3.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

S3_ENV_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ENDPOINT_URL")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def moto_server() -> Iterator[dict[str, str]]:
    """Run moto's S3 server; yield the environment that points the AWS clients at it."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto's S3 server did not start") from None
                time.sleep(0.1)
        yield {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        }
    finally:
        process.terminate()
        process.wait(timeout=10)


def new_bucket(env: dict[str, str]) -> str:
    """Create a bucket with a fresh name on the server `env` points at; its name."""
    import boto3

    name = f"distillery-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_REGION"],
    )
    client.create_bucket(Bucket=name)
    return name


@contextlib.contextmanager
def s3_environment(env: dict[str, str]) -> Iterator[None]:
    """Point this process's clients at the server for the `with` block."""
    before = {key: os.environ.get(key) for key in S3_ENV_KEYS}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def fsspec_options(env: dict[str, str]) -> dict[str, object]:
    """`storage_options` for fsspec's s3fs (what `datasets` uses) to reach the server."""
    return {
        "key": env["AWS_ACCESS_KEY_ID"],
        "secret": env["AWS_SECRET_ACCESS_KEY"],
        "client_kwargs": {
            "endpoint_url": env["AWS_ENDPOINT_URL"],
            "region_name": env["AWS_REGION"],
        },
    }
