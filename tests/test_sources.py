"""Which source the environment names, and the errors for a source that cannot be used."""

from __future__ import annotations

import importlib.util

import pytest

from pipelines.ingest.sources import SourceConfigError, open_source, resolve_source_kind


@pytest.mark.parametrize(
    ("env", "kind"),
    [
        ({}, "local"),
        ({"OPENAI_API_KEY": "sk-x"}, "openai"),
        ({"AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com"}, "azure"),
        ({"OPENAI_API_KEY": "sk-x", "AZURE_OPENAI_ENDPOINT": "https://x"}, "openai"),
        ({"DISTILLERY_SOURCE": "Azure", "OPENAI_API_KEY": "sk-x"}, "azure"),
        ({"DISTILLERY_SOURCE": "local", "OPENAI_API_KEY": "sk-x"}, "local"),
    ],
)
def test_the_source_follows_the_environment(env: dict[str, str], kind: str) -> None:
    assert resolve_source_kind(env) == kind


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DISTILLERY_SOURCE": "anthropic"}, "DISTILLERY_SOURCE='anthropic' is not one of"),
        ({"DISTILLERY_SOURCE": "openai"}, "DISTILLERY_SOURCE=openai needs OPENAI_API_KEY"),
        ({"DISTILLERY_SOURCE": "azure"}, "DISTILLERY_SOURCE=azure needs AZURE_OPENAI_ENDPOINT"),
    ],
)
def test_an_unusable_source_says_what_is_missing(env: dict[str, str], message: str) -> None:
    with pytest.raises(SourceConfigError, match=message), open_source(env):
        pass


@pytest.mark.skipif(
    importlib.util.find_spec("azure") is not None, reason="the azure extra is installed"
)
def test_azure_without_a_key_or_the_extra_names_the_extra() -> None:
    env = {"AZURE_OPENAI_ENDPOINT": "https://example.openai.azure.com"}

    with (
        pytest.raises(SourceConfigError, match=r"pip install 'distillery\[azure\]'"),
        open_source(env),
    ):
        pass


def test_a_base_url_with_credentials_never_shows_them() -> None:
    from pipelines.ingest.sources import _host

    assert _host("https://bob:s3cr3tpassw0rd@gw.example.com:8443/v1") == "gw.example.com:8443"
    assert _host("http://[::1]:9000/v1") == "[::1]:9000"
