"""/v1/dsar/connectors: the webhook and manual-task connectors (list, create, update, disable,
delete, rotate a secret, test with a signed ping), and /v1/dsar/requests/{id}/tasks/{connector}
where an officer records what a manual task did. Secrets are shown once, never again."""

# No `from __future__ import annotations`: FastAPI must see the Annotated guards as objects.

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response

from compliance.gdpr import connector_service
from compliance.gdpr.connector_models import DsarTask
from compliance.gdpr.connector_schemas import (
    ConnectorCreated,
    ConnectorIn,
    ConnectorOut,
    ConnectorPatch,
    ConnectorsOut,
    PingOut,
    SecretIn,
    SecretOut,
    TaskOut,
    TaskResultIn,
    TasksOut,
)
from compliance.gdpr.connector_service import ConnectorInvalid, ConnectorView
from compliance.gdpr.connectors import webhook
from core.audit.service import record_event
from core.authz import Principal, authorize
from core.http import DbSession
from core.strict_json import StrictJsonRoute

router = APIRouter(prefix="/v1/dsar", tags=["dsar"], route_class=StrictJsonRoute)

Lister = Annotated[Principal, authorize("dsar/connectors", "list")]
Reader = Annotated[Principal, authorize("dsar/connectors", "read")]
Creator = Annotated[Principal, authorize("dsar/connectors", "create")]
Updater = Annotated[Principal, authorize("dsar/connectors", "update")]
Deleter = Annotated[Principal, authorize("dsar/connectors", "delete")]
Rotator = Annotated[Principal, authorize("dsar/connectors", "rotate")]
Tester = Annotated[Principal, authorize("dsar/connectors", "test")]
TaskLister = Annotated[Principal, authorize("dsar/tasks", "list")]
TaskRecorder = Annotated[Principal, authorize("dsar/tasks", "record")]


def _actor(caller: Principal) -> str:
    if caller.kind == "user" or not caller.client_id:
        return f"user:{caller.subject}"
    return f"client:{caller.client_id}"


def _out(shown: ConnectorView) -> ConnectorOut:
    return ConnectorOut.model_validate(shown.describe())


def _task(task: DsarTask) -> TaskOut:
    return TaskOut(
        request_id=str(task.request_id),
        connector=task.connector,
        status=task.status,
        rows_affected=task.rows_affected,
        method=task.method,
        note=task.note,
        opened_at=task.opened_at,
        closed_at=task.closed_at,
        closed_by=task.closed_by,
    )


@router.get("/connectors", response_model=ConnectorsOut, operation_id="list_dsar_connectors")
def list_connectors(session: DbSession, caller: Lister) -> ConnectorsOut:
    """The configured connectors (the built-in ones are not listed: they are always asked)."""
    return ConnectorsOut(
        connectors=[
            _out(connector_service.view(r)) for r in connector_service.list_connectors(session)
        ]
    )


@router.post(
    "/connectors",
    response_model=ConnectorCreated,
    status_code=201,
    operation_id="create_dsar_connector",
)
def create_connector(body: ConnectorIn, session: DbSession, caller: Creator) -> ConnectorCreated:
    """A webhook (its secret returned this once) or a manual-task connector."""
    actor = _actor(caller)
    if body.kind == "webhook":
        if body.url is None or body.instructions is not None or body.assignee_email is not None:
            raise ConnectorInvalid("a webhook connector has a url, and no instructions or assignee")
        shown, secret = connector_service.create_webhook(
            session,
            name=body.name,
            url=body.url,
            types=body.types,
            secret=body.secret,
            timeout_seconds=body.timeout_seconds,
            enabled=body.enabled,
            actor=actor,
        )
        return ConnectorCreated(connector=_out(shown), secret=secret)
    if body.instructions is None or body.assignee_email is None or body.url or body.secret:
        raise ConnectorInvalid(
            "a manual connector has instructions and an assignee_email, and no url or secret"
        )
    shown = connector_service.create_manual(
        session,
        name=body.name,
        instructions=body.instructions,
        assignee_email=body.assignee_email,
        types=body.types,
        enabled=body.enabled,
        actor=actor,
    )
    return ConnectorCreated(connector=_out(shown))


@router.get("/connectors/{name}", response_model=ConnectorOut, operation_id="read_dsar_connector")
def read_connector(name: str, session: DbSession, caller: Reader) -> ConnectorOut:
    return _out(connector_service.view(connector_service.find(session, name)))


@router.patch(
    "/connectors/{name}", response_model=ConnectorOut, operation_id="update_dsar_connector"
)
def update_connector(
    name: str, body: ConnectorPatch, session: DbSession, caller: Updater
) -> ConnectorOut:
    return _out(
        connector_service.update_connector(
            session,
            name,
            types=body.types,
            enabled=body.enabled,
            url=body.url,
            timeout_seconds=body.timeout_seconds,
            instructions=body.instructions,
            assignee_email=body.assignee_email,
        )
    )


@router.post(
    "/connectors/{name}/disable",
    response_model=ConnectorOut,
    operation_id="disable_dsar_connector",
)
def disable_connector(name: str, session: DbSession, caller: Updater) -> ConnectorOut:
    """Stop asking it (requests already waiting for its answer keep waiting)."""
    return _out(connector_service.update_connector(session, name, enabled=False))


@router.delete("/connectors/{name}", status_code=204, operation_id="delete_dsar_connector")
def delete_connector(name: str, session: DbSession, caller: Deleter) -> Response:
    connector_service.delete_connector(session, name)
    return Response(status_code=204)


@router.post(
    "/connectors/{name}/rotate-secret",
    response_model=SecretOut,
    operation_id="rotate_dsar_connector_secret",
)
def rotate_secret(
    name: str, session: DbSession, caller: Rotator, body: SecretIn | None = None
) -> SecretOut:
    """A new secret (given or generated), returned this once; the old one stops working."""
    secret = connector_service.rotate_secret(session, name, secret=body.secret if body else None)
    return SecretOut(name=name, secret=secret)


@router.post("/connectors/{name}/test", response_model=PingOut, operation_id="test_dsar_connector")
def test_connector(name: str, session: DbSession, caller: Tester) -> PingOut:
    """Send a signed ``ping`` (no subject) and report whether a valid answer came back."""
    outcome = webhook.ping(session, name)
    ok = outcome.status in ("done", "not_applicable")
    record_event(
        session,
        event_type="gdpr.connector_tested",
        resource=f"dsar_connector:{name}",
        details={"ok": ok, "status": outcome.status},
        actor=_actor(caller),
    )
    return PingOut(name=name, ok=ok, status=outcome.status, detail=outcome.detail)


@router.get("/tasks", response_model=TasksOut, operation_id="list_dsar_tasks")
def list_tasks(
    session: DbSession,
    caller: TaskLister,
    status: Annotated[Literal["open", "done", "not_applicable"] | None, Query()] = None,
) -> TasksOut:
    """The manual connectors' tasks, oldest first (``status=open``: what is waiting)."""
    return TasksOut(tasks=[_task(t) for t in connector_service.list_tasks(session, status=status)])


@router.post(
    "/requests/{request_id}/tasks/{connector}",
    response_model=TaskOut,
    operation_id="record_dsar_task",
)
def record_task(
    request_id: UUID, connector: str, body: TaskResultIn, session: DbSession, caller: TaskRecorder
) -> TaskOut:
    """Record what was done for a manual task; the request's next run reads it."""
    return _task(
        connector_service.record_task_result(
            session,
            request_id,
            connector,
            status=body.status,
            rows_affected=body.rows_affected,
            method=body.method,
            note=body.note,
            actor=_actor(caller),
        )
    )
