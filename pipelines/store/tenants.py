"""Who is calling the store: tenants, their keys, and the key that reads every tenant.

A capturing store records, with each capture, the tenant that made it, in the stored completion's
(or response's) metadata under `TENANT_KEY`, so it reaches the lake and a recipe can select an app
by it (`select: {metadata: {distillery_tenant: app_a}}`). The tenant is:

- with a keys file (`--keys FILE`), the name its key has there;
- otherwise, a salted fingerprint of whatever key the client sends (`key_<16 hex>`; `anonymous`
  for none), the salt kept in the store's file so a tenant keeps its name across restarts. The
  key itself is never stored.

Every read, update and delete of a capturing store is scoped to the caller's tenant. A reader
(`--read-key`, or a keys-file entry with `role: read`) reads every tenant and does nothing else:
it cannot generate, forward, update or delete. A plain store (no `--upstream`) has no tenants:
whoever holds its key (or anyone, without one) reads it all, as before.

Keys file (YAML or JSON), a key given as itself or as the hex SHA-256 of it:

    tenants:
      app_a: {key: sk-app-a-…}
      app_b: {key_sha256: 3f1c…}
      ingest: {key_sha256: 9ad0…, role: read}
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipelines.store.errors import APIError

TENANT_KEY = "distillery_tenant"
"""The metadata key holding a capture's tenant (reserved: a request may not set it)."""
ROLES = ("generate", "read")
ANONYMOUS = "anonymous"
_TENANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")


class KeysFileError(ValueError):
    """The keys file cannot be read or does not say what it must."""


@dataclass(frozen=True)
class Caller:
    """Who a request comes from.

    Attributes:
        tenant: The tenant whose captures it makes and sees; None sees every tenant's.
        writes: It may generate, forward, update and delete (all but a reader).
    """

    tenant: str | None
    writes: bool = True

    @property
    def reads_all(self) -> bool:
        return self.tenant is None


READER = Caller(tenant=None, writes=False)
OWNER = Caller(tenant=None)
"""Anyone a plain store lets in: it has no tenants."""


@dataclass(frozen=True)
class Keys:
    """The keys a store takes and who each one is.

    Attributes:
        named: SHA-256 digests of the keys-file keys and the read key, with their callers.
        store_key: `--api-key`: required of every caller that is not in `named`.
        salt: Set on a capturing store: callers outside `named` are the tenant their key's
            fingerprint names. None on a plain store, where every caller reads everything.
        from_file: `named` came from a keys file, so a key not in it is refused.
    """

    named: tuple[tuple[bytes, Caller], ...] = ()
    store_key: str | None = field(default=None, repr=False)
    salt: bytes | None = field(default=None, repr=False)
    from_file: bool = False

    @property
    def required(self) -> bool:
        """Whether every request must carry a key the store knows."""
        return self.from_file or self.store_key is not None

    def caller(self, presented: str | None, *, azure: bool = False) -> Caller | APIError:
        """The caller presenting `presented` (None: no key), or the 401 refusing it."""
        if presented:
            digest = hashlib.sha256(presented.encode()).digest()
            for known, caller in self.named:
                if hmac.compare_digest(digest, known):
                    return caller
        if self.required:
            if not presented:
                return APIError(
                    401,
                    "You didn't provide an API key. Send it in the Authorization header as"
                    " 'Bearer YOUR_KEY'" + (" or in the api-key header." if azure else "."),
                    code="missing_api_key",
                )
            store_key = (self.store_key or "").encode()
            if self.from_file or not hmac.compare_digest(presented.encode(), store_key):
                # Never echo the presented key, not even a prefix: it may be a real secret.
                return APIError(401, "Incorrect API key provided.", code="invalid_api_key")
        if self.salt is None:
            return OWNER
        return Caller(tenant=fingerprint(presented, self.salt))


def fingerprint(key: str | None, salt: bytes) -> str:
    """The tenant name of a key outside any keys file: `key_` and 16 hex digits of a salted
    HMAC, from which the key cannot be recovered; `anonymous` for no key."""
    if not key:
        return ANONYMOUS
    return "key_" + hmac.new(salt, key.encode(), hashlib.sha256).hexdigest()[:16]


def load_keys(
    path: str | Path | None, *, read_key: str | None = None
) -> tuple[tuple[bytes, Caller], ...]:
    """The named keys of a keys file and of `--read-key`, as (SHA-256 digest, caller) pairs.

    Raises:
        KeysFileError: The file is missing, not YAML/JSON, or an entry is malformed (its
            message never quotes a key).
    """
    named: list[tuple[bytes, Caller]] = []
    if read_key:
        named.append((hashlib.sha256(read_key.encode()).digest(), READER))
    if path is None:
        return tuple(named)
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise KeysFileError(f"cannot read the keys file {path}: {type(err).__name__}") from None
    tenants = document.get("tenants") if isinstance(document, dict) else None
    if not isinstance(tenants, dict) or not tenants:
        raise KeysFileError(f"the keys file {path} needs a non-empty `tenants:` mapping")
    for name, entry in tenants.items():
        named.append(_entry(str(name), entry))
    digests = [digest for digest, _ in named]
    if len(set(digests)) != len(digests):
        raise KeysFileError(f"the keys file {path} gives the same key twice")
    return tuple(named)


def _entry(name: str, entry: object) -> tuple[bytes, Caller]:
    if not _TENANT_NAME.fullmatch(name):
        raise KeysFileError(
            f"tenant name {name[:70]!r}: letters, digits, '_', '.', '-' (at most 64)"
        )
    if not isinstance(entry, dict):
        raise KeysFileError(f"tenant {name}: expected a mapping with `key` or `key_sha256`")
    role = entry.get("role", "generate")
    if role not in ROLES:
        raise KeysFileError(f"tenant {name}: role must be one of {', '.join(ROLES)}")
    key, hashed = entry.get("key"), entry.get("key_sha256")
    if (key is None) == (hashed is None):
        raise KeysFileError(f"tenant {name}: give exactly one of `key` and `key_sha256`")
    if key is not None:
        if not isinstance(key, str) or len(key) < 16:
            raise KeysFileError(f"tenant {name}: `key` must be a string of 16 characters or more")
        digest = hashlib.sha256(key.encode()).digest()
    else:
        if not isinstance(hashed, str) or not _HEX_SHA256.fullmatch(hashed.lower()):
            raise KeysFileError(f"tenant {name}: `key_sha256` must be 64 hex digits")
        digest = bytes.fromhex(hashed)
    return digest, READER if role == "read" else Caller(tenant=name)
