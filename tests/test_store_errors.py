"""Errors in OpenAI's shape with the status that makes the SDK raise the right class."""

from __future__ import annotations

import httpx2
import openai
import pytest

from tests.conftest import AZURE_API_VERSION, STORE_KEY, azure_client, openai_client
from tests.store_process import StoreProcess


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"order": "newest"}, "order"),
    ],
)
def test_bad_list_parameters_are_400_naming_the_parameter(
    client: openai.OpenAI, params: dict[str, object], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.list(**params)  # type: ignore[arg-type]

    assert caught.value.status_code == 400
    assert caught.value.param == param
    assert caught.value.type == "invalid_request_error"


def test_unknown_id_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError, match="chatcmpl-nope"):
        client.chat.completions.retrieve("chatcmpl-nope")
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.messages.list("chatcmpl-nope")
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.update("chatcmpl-nope", metadata={"a": "b"})


def test_unknown_after_cursor_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.list(after="chatcmpl-nope")
    assert caught.value.param == "after"
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.messages.list("chatcmpl-long", after="chatcmpl-long-99")


@pytest.mark.parametrize("factory", [openai_client, azure_client])
def test_wrong_key_is_401_and_never_echoed(store: StoreProcess, factory) -> None:
    wrong = "sk-wrong-key-that-must-not-be-echoed"
    client = factory(store, max_retries=0)
    client.api_key = wrong

    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.list().data  # noqa: B018

    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"
    assert wrong not in caught.value.response.text
    assert "sk-" not in caught.value.message


def test_missing_key_is_401(store: StoreProcess) -> None:
    response = httpx2.get(f"{store.url}/v1/chat/completions")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_api_key"
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_azure_accepts_the_api_key_header_and_requires_api_version(store: StoreProcess) -> None:
    url = f"{store.url}/openai/chat/completions"
    ok = httpx2.get(url, params={"api-version": AZURE_API_VERSION}, headers={"api-key": STORE_KEY})
    missing_version = httpx2.get(url, headers={"api-key": STORE_KEY})

    assert ok.status_code == 200
    assert ok.json()["object"] == "list"
    assert missing_version.status_code == 400
    assert missing_version.json()["error"]["param"] == "api-version"


def test_openai_surface_does_not_take_the_azure_header(store: StoreProcess) -> None:
    response = httpx2.get(f"{store.url}/v1/chat/completions", headers={"api-key": STORE_KEY})

    assert response.status_code == 401


def test_unknown_route_is_404_in_openai_shape(store: StoreProcess) -> None:
    response = httpx2.get(
        f"{store.url}/v1/embeddings", headers={"Authorization": f"Bearer {STORE_KEY}"}
    )

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_url"


def test_update_without_metadata_is_400(store: StoreProcess) -> None:
    response = httpx2.post(
        f"{store.url}/v1/chat/completions/chatcmpl-list-001",
        json={"meta": {}},
        headers={"Authorization": f"Bearer {STORE_KEY}"},
    )

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "metadata"
