"""Paths on object storage (`s3://`, `az://`, `abfs://`, `gs://`) that read like `pathlib.Path`.

A data directory on object storage is an `ObjectPath`; `pipelines.datadir.paths.DataPaths` builds
every path under it exactly as under a local directory, and the modules that read and write those
paths call the few `Path` methods implemented here (`/`, `name`, `parent`, `exists`, `read_bytes`,
`write_text`, `glob`, …), so one code path serves both.

Why obstore: it is the Python face of the Rust `object_store` crate that polars itself uses for
`s3://` / `az://` / `gs://`, so the lake is read by polars and written by obstore with the same
configuration keys and the same environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
`AWS_REGION`, `AWS_ENDPOINT_URL`; `AZURE_STORAGE_CONNECTION_STRING` or `AZURE_STORAGE_ACCOUNT_NAME`
and `_KEY`; `GOOGLE_APPLICATION_CREDENTIALS`); it is one wheel with no Python dependencies;
and it offers the conditional writes a lease needs (`put` with `mode="create"`: S3
`If-None-Match: *`, Azure and GCS preconditions) on every cloud. fsspec (s3fs, adlfs, gcsfs) would
add three packages with three configurations; `datasets` users still reach the files with it.

Object stores have no rename, so nothing here pretends to: a put replaces an object whole (a
reader sees the old or the new object, never half), and the multi-object atomicity a dataset
version needs is built on top (`pipelines.export.publish`: manifest last, then `LATEST`).
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import obstore
import polars as pl
from obstore.exceptions import AlreadyExistsError, BaseError, NotFoundError, PreconditionError

StorageError = BaseError
"""What an object store's request raises (a missing bucket, refused credentials), for callers
that name the failure without importing obstore."""

SCHEMES = ("s3", "az", "abfs", "abfss", "gs")
_AZURE = ("az", "abfs", "abfss")


def is_object_url(location: str | os.PathLike[str]) -> bool:
    """Whether `location` names object storage (`s3://…`, `az://…`, `abfs://…`, `gs://…`)."""
    scheme, sep, _ = str(location).partition("://")
    return bool(sep) and scheme.lower() in SCHEMES


@dataclass(frozen=True)
class ObjectTag:
    """What a conditional put names the object's state by: object_store asks S3 and Azure for the
    entity tag and GCS for the version (its generation), so both travel together."""

    e_tag: str | None
    version: str | None


def _tag(meta: Mapping[str, Any]) -> ObjectTag:
    return ObjectTag(meta.get("e_tag"), meta.get("version"))


@dataclass(frozen=True, order=True)
class ObjectPath:
    """One key (an object, or a "directory" prefix) in a bucket or container."""

    root: str
    """`scheme://bucket` (for `abfs://container@account…`, the container part)."""
    key: str = ""
    """The key, without leading or trailing slashes."""

    @classmethod
    def from_url(cls, url: str) -> ObjectPath:
        if not is_object_url(url):
            raise ValueError(f"not an object storage URL: {url}")
        scheme, _, rest = url.partition("://")
        bucket, _, key = rest.partition("/")
        return cls(f"{scheme.lower()}://{bucket}", key.strip("/"))

    def __str__(self) -> str:
        return f"{self.root}/{self.key}" if self.key else self.root

    def __truediv__(self, part: str | os.PathLike[str]) -> ObjectPath:
        tail = str(part).strip("/")
        return ObjectPath(self.root, f"{self.key}/{tail}" if self.key else tail)

    @property
    def name(self) -> str:
        return self.key.rpartition("/")[2]

    @property
    def parent(self) -> ObjectPath:
        return ObjectPath(self.root, self.key.rpartition("/")[0])

    def resolve(self) -> ObjectPath:
        return self

    def relative_to(self, other: ObjectPath) -> str:
        if self.root != other.root or not self.key.startswith(other.key + "/"):
            raise ValueError(f"{self} is not under {other}")
        return self.key[len(other.key) + 1 :]

    # Reading.

    def exists(self) -> bool:
        return self.is_file() or self.is_dir()

    def is_file(self) -> bool:
        try:
            obstore.head(_store(self.root), self.key)
        except (NotFoundError, FileNotFoundError):
            return False
        return True

    def is_dir(self) -> bool:
        prefix = self.key + "/" if self.key else None
        listing = obstore.list_with_delimiter(_store(self.root), prefix)
        return bool(listing["objects"] or listing["common_prefixes"])

    def read_bytes(self) -> bytes:
        return self.read_with_tag()[0]

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    def read_with_tag(self) -> tuple[bytes, ObjectTag]:
        """The object's bytes and its tag (for a conditional replace)."""
        try:
            result = obstore.get(_store(self.root), self.key)
        except (NotFoundError, FileNotFoundError):
            raise FileNotFoundError(2, "no such object", str(self)) from None
        return bytes(result.bytes()), _tag(result.meta)

    def size(self) -> int:
        """The object's size in bytes."""
        try:
            meta = obstore.head(_store(self.root), self.key)
        except (NotFoundError, FileNotFoundError):
            raise FileNotFoundError(2, "no such object", str(self)) from None
        return int(meta["size"])

    def walk(self) -> Iterator[ObjectPath]:
        """Every object under this prefix, in key order."""
        for item, _ in self.walk_sizes():
            yield item

    def walk_sizes(self) -> Iterator[tuple[ObjectPath, int]]:
        """Every object under this prefix with its size in bytes (from the listing itself, no
        request per object), in key order."""
        prefix = self.key + "/" if self.key else None
        for chunk in obstore.list(_store(self.root), prefix):
            for meta in chunk:
                yield ObjectPath(self.root, meta["path"]), int(meta["size"])

    def glob(self, pattern: str) -> Iterator[ObjectPath]:
        """Objects under this prefix matching `pattern` segment by segment (`*` stays within one
        segment, as in `Path.glob`); prefixes match too, for patterns like `.staging-*`."""
        wanted = pattern.split("/")
        seen: set[str] = set()
        for item in self.walk():
            parts = item.relative_to(self).split("/")
            for depth in range(len(wanted), len(parts) + 1):
                head = parts[:depth]
                if len(head) != len(wanted):
                    continue
                if all(fnmatch.fnmatchcase(p, w) for p, w in zip(head, wanted, strict=True)):
                    key = "/".join(head)
                    if key not in seen:
                        seen.add(key)
                        yield self / key
                break

    # Writing: each put replaces one object whole.

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
        """Object stores have no directories: nothing to create."""

    def write_bytes(self, data: bytes) -> None:
        obstore.put(_store(self.root), self.key, data)

    def write_text(self, text: str, encoding: str = "utf-8") -> None:
        self.write_bytes(text.encode(encoding))

    def upload(self, local: Path) -> None:
        """Put the local file `local` here (multipart when large)."""
        obstore.put(_store(self.root), self.key, local)

    def download(self, local: Path) -> None:
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(self.read_bytes())

    def create(self, data: bytes) -> ObjectTag | None:
        """Put `data` only if no object is here (S3 `If-None-Match: *`); its tag, or None."""
        try:
            return _tag(obstore.put(_store(self.root), self.key, data, mode="create"))
        except AlreadyExistsError:
            return None

    def replace_if(self, data: bytes, tag: ObjectTag | None) -> ObjectTag | None:
        """Put `data` only if the object still has `tag` (S3 and Azure `If-Match` on the entity
        tag, GCS `x-goog-if-generation-match` on the version); its new tag, or None when someone
        else changed or removed it since."""
        names = {"e_tag": tag.e_tag, "version": tag.version} if tag else {}
        mode = {key: value for key, value in names.items() if value is not None} or "create"
        try:
            return _tag(obstore.put(_store(self.root), self.key, data, mode=mode))
        except (PreconditionError, NotFoundError, AlreadyExistsError):
            return None

    def unlink(self, missing_ok: bool = False) -> None:
        if not missing_ok and not self.is_file():
            raise FileNotFoundError(2, "no such object", str(self))
        obstore.delete(_store(self.root), self.key)

    def remove_tree(self) -> None:
        """Delete every object under this prefix."""
        keys = [item.key for item in self.walk()]
        if keys:
            obstore.delete(_store(self.root), keys)


AnyPath = Path | ObjectPath

_SERVER_ERROR = re.compile(r"<Code>([^<]*)</Code>\s*<Message>([^<]*)</Message>")


def storage_error_summary(error: BaseException) -> str:
    """One line for an object store's error: the server's code and message when it sent them
    (`NoSuchBucket: The specified bucket does not exist`), else the error's first line."""
    text = str(error)
    found = _SERVER_ERROR.search(text)
    if found:
        return f"{found.group(1)}: {found.group(2)}"
    return text.strip().splitlines()[0][:300] if text.strip() else type(error).__name__


def as_path(location: str | os.PathLike[str] | ObjectPath) -> AnyPath:
    """A local `Path`, or an `ObjectPath` for an object storage URL."""
    if isinstance(location, ObjectPath | Path):
        return location
    text = os.fspath(location)
    return ObjectPath.from_url(text) if is_object_url(text) else Path(text)


def append_text(path: AnyPath, text: str) -> None:
    """Append `text` to a file; object storage has no append, so there the object is replaced
    whole with its old text and the new (for small, rarely written files only)."""
    if isinstance(path, ObjectPath):
        before = path.read_text() if path.is_file() else ""
        path.write_text(before + text)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(text)


def read_parquet_footer(path: AnyPath) -> dict[str, str]:
    """The key-value metadata of a Parquet file's footer (only the footer is read)."""
    if isinstance(path, ObjectPath):
        return pl.read_parquet_metadata(str(path), storage_options=storage_options(path))
    return pl.read_parquet_metadata(path)


def read_parquet(path: AnyPath, **options: Any) -> pl.DataFrame:
    """`pl.read_parquet` for a local or object path (polars reads object storage itself)."""
    if isinstance(path, ObjectPath):
        return pl.read_parquet(str(path), storage_options=storage_options(path), **options)
    return pl.read_parquet(path, **options)


def scan_parquet(paths: list[AnyPath], **options: Any) -> pl.LazyFrame:
    """`pl.scan_parquet` over local or object paths (all of one kind)."""
    remote = [path for path in paths if isinstance(path, ObjectPath)]
    if remote:
        return pl.scan_parquet(
            [str(path) for path in paths], storage_options=storage_options(remote[0]), **options
        )
    return pl.scan_parquet(paths, **options)


def storage_options(path: ObjectPath) -> dict[str, str]:
    """The `storage_options` polars needs for `path`, from the same environment obstore reads."""
    return dict(_config(path.root.partition("://")[0]))


def _config(scheme: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Settings the standard environment does not spell the way `object_store` reads them."""
    env = os.environ if env is None else env
    config: dict[str, str] = {}
    if scheme == "s3":
        endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
        if endpoint:
            config["aws_endpoint"] = endpoint
            if endpoint.startswith("http://"):  # a local server (moto, MinIO)
                config["aws_allow_http"] = "true"
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        if region:
            config["aws_region"] = region
    elif scheme in _AZURE:
        parts = _connection_string(env.get("AZURE_STORAGE_CONNECTION_STRING", ""))
        if "AccountName" in parts:
            config["azure_storage_account_name"] = parts["AccountName"]
        if "AccountKey" in parts:
            config["azure_storage_account_key"] = parts["AccountKey"]
        endpoint = parts.get("BlobEndpoint")
        if endpoint:
            # Azurite serves `http://host:port/<account>`; object_store appends the container.
            config["azure_storage_endpoint"] = endpoint.rstrip("/")
            if endpoint.startswith("http://"):
                config["azure_allow_http"] = "true"
    return config


def _connection_string(text: str) -> dict[str, str]:
    pairs = (item.partition("=") for item in text.split(";") if "=" in item)
    return {key.strip(): value.strip() for key, _, value in pairs}


_STORES: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}


def _store(root: str) -> Any:
    """One client per bucket and configuration (the environment may change between runs)."""
    scheme, _, bucket = root.partition("://")
    config = _config(scheme)
    cache_key = (root, tuple(sorted(config.items())))
    store = _STORES.get(cache_key)
    if store is None:
        store = _new_store(scheme, bucket, config)
        _STORES[cache_key] = store
    return store


def _new_store(scheme: str, bucket: str, config: dict[str, str]) -> Any:
    from obstore.store import AzureStore, GCSStore, S3Store

    allow_http = config.pop("aws_allow_http", None) or config.pop("azure_allow_http", None)
    client = {"allow_http": True} if allow_http else None
    if scheme == "s3":
        return S3Store(bucket, config=config, client_options=client)
    if scheme in _AZURE:
        # abfs://container@account.dfs.core.windows.net: the account is in the host.
        container, _, host = bucket.partition("@")
        if host and "azure_storage_account_name" not in config:
            config["azure_storage_account_name"] = host.partition(".")[0]
        return AzureStore(container, config=config, client_options=client)
    return GCSStore(bucket, config=config)
