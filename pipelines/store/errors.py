"""Errors in exactly OpenAI's wire shape, so the SDK raises the same exception classes it would."""

from __future__ import annotations

from starlette.responses import JSONResponse


class APIError(Exception):
    """An API error that the app turns into `{"error": {message, type, param, code}}`.

    Args:
        status: HTTP status code (400, 401, 404, 429, 500, ...).
        message: Human-readable message; never contains a credential.
        type: OpenAI's error type, e.g. ``invalid_request_error``.
        param: The offending parameter, when there is one.
        code: OpenAI's machine-readable code, e.g. ``invalid_api_key``.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code

    def to_response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        body = {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }
        return JSONResponse(body, status_code=self.status, headers=headers)


def bad_parameter(param: str, message: str) -> APIError:
    return APIError(400, message, param=param, code="invalid_value")


def not_found(message: str, *, param: str | None = None) -> APIError:
    return APIError(404, message, param=param, code="not_found")
