"""Whether an object storage data directory has credentials, checked before the first request.

Without any, the Rust `object_store` client falls back to the cloud's instance metadata service
(169.254.169.254) and, off a cloud machine, ends in a long traceback naming that address instead of
the missing variable. A run asks the metadata service once, briefly, and without an answer stops
in one line that names what to set.
"""

from __future__ import annotations

import functools
import os
import urllib.error
import urllib.request
from collections.abc import Mapping

from pipelines.datadir.object_storage import ObjectPath

METADATA_TIMEOUT_S = 2.0
"""How long the instance metadata service may take to answer (it answers in milliseconds on a
cloud machine)."""

# Each tuple is one way to sign in: every variable in it set.
_ENV_CREDENTIALS: dict[str, tuple[tuple[str, ...], ...]] = {
    "s3": (
        ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"),
        ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",),
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI",),
        ("AWS_SKIP_SIGNATURE",),
    ),
    "azure": (
        ("AZURE_STORAGE_CONNECTION_STRING",),
        ("AZURE_STORAGE_ACCOUNT_KEY",),
        ("AZURE_STORAGE_ACCESS_KEY",),
        ("AZURE_STORAGE_SAS_KEY",),
        ("AZURE_STORAGE_TOKEN",),
        ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID"),
        ("AZURE_FEDERATED_TOKEN_FILE",),
        ("AZURE_STORAGE_USE_EMULATOR",),
    ),
    "gs": (
        ("GOOGLE_APPLICATION_CREDENTIALS",),
        ("GOOGLE_SERVICE_ACCOUNT",),
        ("GOOGLE_SERVICE_ACCOUNT_PATH",),
        ("GOOGLE_SERVICE_ACCOUNT_KEY",),
    ),
}

# The request each cloud's metadata service answers with 200 on its own machines.
_METADATA_PROBES: dict[str, tuple[str, str, dict[str, str]]] = {
    "s3": (
        "PUT",
        "http://169.254.169.254/latest/api/token",
        {"X-aws-ec2-metadata-token-ttl-seconds": "60"},
    ),
    "azure": (
        "GET",
        "http://169.254.169.254/metadata/instance?api-version=2021-02-01",
        {"Metadata": "true"},
    ),
    "gs": (
        "GET",
        "http://metadata.google.internal/computeMetadata/v1/",
        {"Metadata-Flavor": "Google"},
    ),
}


def missing_credentials(data_dir: ObjectPath, env: Mapping[str, str] | None = None) -> str | None:
    """One line naming what to set when `data_dir` has no credentials; None when it has some
    (in the environment, or from the machine's instance metadata service)."""
    env = os.environ if env is None else env
    scheme = data_dir.root.partition("://")[0]
    cloud = "s3" if scheme == "s3" else "gs" if scheme == "gs" else "azure"
    if any(all(env.get(name) for name in way) for way in _ENV_CREDENTIALS[cloud]):
        return None
    if _metadata_answers(cloud):
        return None
    first = " and ".join(_ENV_CREDENTIALS[cloud][0])
    others = ", ".join(" + ".join(way) for way in _ENV_CREDENTIALS[cloud][1:3])
    return (
        f"no credentials for {data_dir.root}: set {first} (or {others}), or run where the"
        " cloud's instance metadata service gives this machine a role"
    )


@functools.cache
def _metadata_answers(cloud: str) -> bool:
    method, url, headers = _METADATA_PROBES[cloud]
    request = urllib.request.Request(url, method=method, headers=headers)
    # No proxy: the metadata address is link-local, and a proxy's answer would not be the cloud's.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=METADATA_TIMEOUT_S) as answer:
            return answer.status == 200
    except (OSError, urllib.error.URLError, ValueError):
        return False
