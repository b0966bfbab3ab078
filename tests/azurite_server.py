"""A real Azure Blob Storage emulator for the tests: Azurite (from npm, `.ci/install-azurite.sh`)
on a loopback port, started and stopped by the tests themselves."""

from __future__ import annotations

import base64
import contextlib
import email.utils
import hashlib
import hmac
import socket
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

from tests.s3_server import free_port

AZURITE = Path(__file__).resolve().parents[1] / ".ci" / "azurite" / "node_modules" / ".bin"
ACCOUNT = "devstoreaccount1"
# Azurite's documented, public development key (the same in every installation).
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def azurite_installed() -> bool:
    return (AZURITE / "azurite-blob").exists()


@contextlib.contextmanager
def azurite_server() -> Iterator[dict[str, str]]:
    """Run Azurite's blob service; yield the environment (a connection string) pointing at it."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="azurite-") as location:
        process = subprocess.Popen(
            [
                str(AZURITE / "azurite-blob"),
                *("--blobHost", "127.0.0.1", "--blobPort", str(port)),
                *("--location", location, "--skipApiVersionCheck", "--silent"),
            ],
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
                        raise RuntimeError("Azurite did not start") from None
                    time.sleep(0.1)
            yield {
                "AZURE_STORAGE_CONNECTION_STRING": (
                    f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
                    f"BlobEndpoint=http://127.0.0.1:{port}/{ACCOUNT};"
                )
            }
        finally:
            process.terminate()
            process.wait(timeout=10)


def new_container(env: dict[str, str]) -> str:
    """Create a container with a fresh name (Create Container, signed with the shared key)."""
    name = f"distillery-{uuid.uuid4().hex[:12]}"
    endpoint = env["AZURE_STORAGE_CONNECTION_STRING"].split("BlobEndpoint=")[1].rstrip(";")
    date, version = email.utils.formatdate(usegmt=True), "2021-08-06"
    signed = (
        "PUT" + "\n" * 12 + f"x-ms-date:{date}\nx-ms-version:{version}\n"
        f"/{ACCOUNT}/{ACCOUNT}/{name}\nrestype:container"
    )
    signature = base64.b64encode(
        hmac.new(base64.b64decode(KEY), signed.encode(), hashlib.sha256).digest()
    ).decode()
    request = urllib.request.Request(
        f"{endpoint}/{name}?restype=container",
        method="PUT",
        headers={
            "x-ms-date": date,
            "x-ms-version": version,
            "Authorization": f"SharedKey {ACCOUNT}:{signature}",
            "Content-Length": "0",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
    return name
