"""Health endpoints for load balancers and orchestrators, and Prometheus metrics."""

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from alerter.health import DatabaseMetrics, readiness
from alerter.web.deps import ClockDep

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
def healthz() -> JSONResponse:
    """The process is alive and answering; nothing else is checked."""
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
def readyz(request: Request, clock: ClockDep) -> JSONResponse:
    """Ready to serve: the database answers, a worker is running, not every source is failing."""
    state = readiness(request.app.state.engine, clock())
    body = {
        "ready": state.ready,
        "checks": {
            "database": state.database,
            "scheduler": state.scheduler,
            "sources": state.sources,
        },
        "problems": list(state.problems),
    }
    return JSONResponse(body, status_code=200 if state.ready else 503)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)


def metrics_registry(engine: sa.Engine) -> CollectorRegistry:
    """A registry of its own per app, so that several apps in one process (tests) never clash."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseMetrics(engine))
    return registry
