"""Test controls (`serve --test-controls`): fault injection, request counts and imports over HTTP,
under `/_admin`. For tests, never for real data."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pipelines.store.errors import APIError
from pipelines.store.faults import FaultConfig


def admin_routes() -> list[Route]:
    """`/_admin/faults`, `/_admin/stats`, `/_admin/import`."""

    async def get_faults(request: Request) -> Response:
        return JSONResponse(request.app.state.injector.config.to_dict())

    async def put_faults(request: Request) -> Response:
        try:
            config = FaultConfig.from_dict(await request.json())
        except (ValueError, TypeError) as err:
            raise APIError(400, f"Invalid fault configuration: {err}") from None
        request.app.state.injector.configure(config)
        return JSONResponse(config.to_dict())

    async def get_stats(request: Request) -> Response:
        return JSONResponse(request.app.state.injector.stats())

    async def post_import(request: Request) -> Response:
        # Body: JSONL in the `distillery store import` format (any kind); all of it or nothing.
        text = (await request.body()).decode("utf-8")
        report = request.app.state.db.import_lines(text.splitlines())
        if report.invalid:
            lines = "; ".join(f"line {n}: {reason}" for n, reason in report.invalid)
            raise APIError(400, f"Nothing imported. Invalid lines: {lines}")
        return JSONResponse(report.to_dict())

    return [
        Route("/faults", get_faults, methods=["GET"]),
        Route("/faults", put_faults, methods=["PUT"]),
        Route("/stats", get_stats, methods=["GET"]),
        Route("/import", post_import, methods=["POST"]),
    ]
