"""Whether an object storage data directory has credentials, checked before the first request.

Without any, the Rust `object_store` client falls back to the cloud's instance metadata service
(169.254.169.254) and, off a cloud machine, ends in a long traceback naming that address instead of
the missing variable. So a run without credentials in its environment stops at once, in one line
that names what to set, and sends nothing anywhere. On a cloud machine whose role the metadata
service gives (an EC2 instance profile, an Azure managed identity, a GCE service account), say so
with `DISTILLERY_INSTANCE_CREDENTIALS=on`: the check is skipped and the client asks the service.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pipelines.datadir.object_storage import ObjectPath

INSTANCE_CREDENTIALS = "DISTILLERY_INSTANCE_CREDENTIALS"
"""`on`: the machine's instance metadata service gives the credentials (nothing in the
environment names them)."""

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


def missing_credentials(data_dir: ObjectPath, env: Mapping[str, str] | None = None) -> str | None:
    """One line naming what to set when `data_dir` has no credentials in the environment; None
    when it has some, or when `DISTILLERY_INSTANCE_CREDENTIALS=on` says the machine has a role."""
    env = os.environ if env is None else env
    scheme = data_dir.root.partition("://")[0]
    cloud = "s3" if scheme == "s3" else "gs" if scheme == "gs" else "azure"
    if any(all(env.get(name) for name in way) for way in _ENV_CREDENTIALS[cloud]):
        return None
    if env.get(INSTANCE_CREDENTIALS, "").lower() in ("on", "1", "true"):
        return None
    first = " and ".join(_ENV_CREDENTIALS[cloud][0])
    others = ", ".join(" + ".join(way) for way in _ENV_CREDENTIALS[cloud][1:3])
    return (
        f"no credentials for {data_dir.root}: set {first} (or {others}); on a cloud machine"
        f" whose role the instance metadata service gives, set {INSTANCE_CREDENTIALS}=on"
    )
