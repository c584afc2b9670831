"""The ``consent_purposes:`` section of `rampart apply`: the purposes consent is asked for
(fideslang data uses), their data categories (fideslang, validated) and the notice shown with its
version. Planned and applied like the other sections, in the same transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.orm import Session

if TYPE_CHECKING:  # apply_plan imports the document, which imports this module
    from cli.apply_plan import Action, PlannedChange


class ConsentPurposeDeclaration(BaseModel):
    """A purpose as declared. ``description`` is the notice shown to the subject; change it
    and give a new ``notice_version`` (left out: the version is bumped for you)."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=255)
    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=5000)
    data_categories: list[str] = Field(default_factory=list)
    notice_version: str | None = Field(
        default=None, min_length=1, max_length=50, pattern=r"^[A-Za-z0-9._-]+$"
    )

    @field_validator("key")
    @classmethod
    def _data_use(cls, value: str) -> str:
        from compliance.gdpr.consent import NotADataUse, data_use

        try:
            data_use(value)
        except NotADataUse as exc:
            raise ValueError(exc.detail) from exc
        return value

    @field_validator("data_categories")
    @classmethod
    def _categories(cls, value: list[str]) -> list[str]:
        from compliance.gdpr.consent import NotADataCategory, check_data_categories

        try:
            check_data_categories(value)
        except NotADataCategory as exc:
            raise ValueError(exc.detail) from exc
        return sorted(set(value))


def _plan_purpose(db: Session, purpose: ConsentPurposeDeclaration, location: str) -> PlannedChange:
    from cli.apply_plan import PlannedChange
    from compliance.gdpr.consent_models import ConsentPurpose

    row = db.get(ConsentPurpose, purpose.key)
    changed: list[str] = []
    if row is not None:
        from compliance.gdpr.consent import purpose_of_row

        have = purpose_of_row(row)
        wanted = {
            "name": (purpose.name, have.name),
            "description": (purpose.description, have.description),
            "data_categories": (tuple(purpose.data_categories), have.categories),
            "notice_version": (purpose.notice_version, have.notice_version),
        }
        changed = [key for key, (want, got) in wanted.items() if want is not None and want != got]
    action: Action = "create" if row is None else ("update" if changed else "unchanged")
    return PlannedChange("consent_purpose", purpose.key, action, location, (*changed,), purpose)


def plan_consent_purposes(
    db: Session, purposes: list[ConsentPurposeDeclaration]
) -> list[PlannedChange]:
    return [_plan_purpose(db, p, f"consent_purposes[{i}]") for i, p in enumerate(purposes)]


def apply_consent_purpose(db: Session, purpose: ConsentPurposeDeclaration, *, actor: str) -> None:
    from compliance.gdpr.consent import upsert_purpose

    upsert_purpose(
        db,
        key=purpose.key,
        categories=purpose.data_categories,
        name=purpose.name,
        description=purpose.description,
        notice_version=purpose.notice_version,
        actor=actor,
    )
