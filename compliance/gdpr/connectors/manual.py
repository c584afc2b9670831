"""A system without an API: its connector opens a task (and mails the assignee the
instructions) and answers ``pending`` until an officer records what was done
(``POST /v1/dsar/requests/{id}/tasks/{connector}``); the next run reads that result."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.orm import Session

from compliance.gdpr.connectors.base import ConnectorOutcome, ConnectorRequest, RequestType
from core.mail import Mail, MailUnavailable, send_mail


class ManualConnector:
    def __init__(
        self,
        config_id: UUID,
        name: str,
        types: tuple[str, ...],
        instructions: str,
        assignee_email: str,
    ) -> None:
        self.config_id, self.types = config_id, types
        self.instructions, self.assignee_email = instructions, assignee_email
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def supports(self, request_type: RequestType) -> bool:
        return request_type in self.types

    def fulfil(self, session: Session, request: ConnectorRequest) -> ConnectorOutcome:
        from compliance.gdpr.connector_service import open_task, task_of

        task = task_of(session, request.request_id, self.name)
        if task is None:
            try:
                send_mail(self._mail(request))
            except MailUnavailable:
                # No task without its mail: the next run opens it and mails again.
                return ConnectorOutcome(
                    self.name, "failed", detail="the assignee could not be mailed"
                )
            open_task(session, request.request_id, self.name)
            return ConnectorOutcome(
                self.name, "pending", method="manual-task-opened", detail="task opened"
            )
        if task.status == "open":
            return ConnectorOutcome(
                self.name, "pending", method="manual-task-opened", detail="task open"
            )
        return ConnectorOutcome(
            self.name,
            "done" if task.status == "done" else "not_applicable",
            rows_affected=task.rows_affected,
            method=task.method,
            detail=f"recorded by {task.closed_by}",
        )

    def _mail(self, request: ConnectorRequest) -> Mail:
        changes = "".join(f"  {k}: {v}\n" for k, v in request.changes.items())
        purposes = ", ".join(request.purposes) or "all"
        body = (
            f"A data-subject request needs you in {self.name}.\n\n"
            f"Request: {request.request_id}\nRight: {request.type}\n"
            f"Customer id: {request.subject.subject}\n"
            f"E-mail: {request.subject.email or '-'}\n"
            + (f"Corrections:\n{changes}" if changes else "")
            + (f"Purposes: {purposes}\n" if request.type in ("restriction", "objection") else "")
            + f"\nWhat to do:\n{self.instructions}\n\n"
            "When done, record the result:\n"
            f"  rampart dsar connector task-done {request.request_id} {self.name}"
            " --status done|not_applicable --rows N --method METHOD\n"
        )
        return Mail(
            to=self.assignee_email,
            subject=f"Data-subject request task ({request.type}) in {self.name}",
            body=body,
        )
