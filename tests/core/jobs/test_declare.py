"""Bad input is refused when declared or enqueued, never when a slot fires; enqueue is a
transactional outbox with idempotency keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from core.database import unit_of_work
from core.errors import SecretRefused, ValidationFailed
from core.jobs import NoArgs, Retry, enqueue, job, schedule
from core.jobs.models import JobRun
from core.jobs.slots import Timing


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cron": "61 * * * *"}, "invalid cron expression '61 * * * *'"),
        ({"cron": "not a cron"}, "invalid cron expression"),
        ({"cron": "0 3 * * *", "timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({}, "exactly one of cron= or every="),
        ({"cron": "0 3 * * *", "every": timedelta(hours=1)}, "exactly one of cron= or every="),
        ({"every": timedelta(milliseconds=10)}, "at least one second"),
    ],
)
def test_bad_timing_is_refused_at_declaration(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationFailed, match=message.replace("*", r"\*").replace("(", r"\(")):
        schedule("tests.bad_timing", "tests.echo", args={"value": 1}, **kwargs)  # type: ignore[arg-type]


def test_schedule_of_unknown_job_or_bad_args_is_refused() -> None:
    with pytest.raises(ValidationFailed, match=r"unknown job 'tests\.nope'"):
        schedule("tests.unknown", "tests.nope", every=timedelta(seconds=5))
    with pytest.raises(ValidationFailed, match=r"invalid arguments for job 'tests.echo': value"):
        schedule("tests.bad_args", "tests.echo", every=timedelta(seconds=5), args={"value": "x"})
    with pytest.raises(ValidationFailed, match="catch_up"):
        schedule("tests.bad_catch_up", "tests.echo", every=timedelta(seconds=5), catch_up="some")  # type: ignore[arg-type]


def test_job_declaration_is_checked() -> None:
    with pytest.raises(ValidationFailed, match="dotted lower_case"):
        job(name="Bad Name", args_model=NoArgs)
    with pytest.raises(ValidationFailed, match="timeout must be positive"):
        job(name="tests.zero_timeout", args_model=NoArgs, timeout=0)
    with pytest.raises(ValidationFailed, match="max_attempts"):
        Retry(max_attempts=0)
    with pytest.raises(ValidationFailed, match="already declared by another function"):

        @job(name="tests.echo", args_model=NoArgs)
        def impostor(session: object, args: NoArgs) -> None:
            return None


def test_enqueue_refuses_unknown_job_bad_args_and_secrets(engine: Engine) -> None:
    with unit_of_work() as session:
        with pytest.raises(ValidationFailed, match=r"unknown job 'tests\.missing'"):
            enqueue(session, "tests.missing", {})
        with pytest.raises(ValidationFailed, match="value: Field required"):
            enqueue(session, "tests.echo", {})
        with pytest.raises(ValidationFailed, match="extra: Extra inputs are not permitted"):
            enqueue(session, "tests.echo", {"value": 1, "extra": 2})
        with pytest.raises(SecretRefused, match=r"\$.message") as refused:
            enqueue(session, "tests.fails", {"message": "card 4111 1111 1111 1111"})
        assert "4111" not in str(refused.value)
        count = session.scalar(select(func.count()).select_from(JobRun))
    assert count == 0


def test_a_rolled_back_enqueue_leaves_no_run(engine: Engine) -> None:
    class Abort(Exception):
        pass

    with pytest.raises(Abort), unit_of_work() as session:
        enqueue(session, "tests.echo", {"value": 1})
        raise Abort
    with unit_of_work() as session:
        enqueue(session, "tests.echo", {"value": 2})
    with unit_of_work() as session:
        values = [run.args["value"] for run in session.scalars(select(JobRun))]
    assert values == [2]


def test_idempotency_key_dedupes_enqueues(engine: Engine, tmp_path: object) -> None:
    args = {"directory": "/tmp/x", "order_ref": "order-42"}
    with unit_of_work() as session:
        first = enqueue(session, "tests.blocking_effect", args)
    with unit_of_work() as session:
        second = enqueue(session, "tests.blocking_effect", args)
        third = enqueue(session, "tests.echo", {"value": 1}, idempotency_key="k")
        fourth = enqueue(session, "tests.echo", {"value": 1}, idempotency_key="k")
    assert first == second
    assert third == fourth != first
    with unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(JobRun)) == 2


def test_typed_args_are_accepted(engine: Engine) -> None:
    from tests.core.jobs.sample_jobs import EchoArgs

    with unit_of_work() as session:
        run_id = enqueue(session, "tests.echo", EchoArgs(value=7))
        assert session.get_one(JobRun, run_id).args == {"value": 7}

    class Other(BaseModel):
        value: int

    with unit_of_work() as session:
        other_id = enqueue(session, "tests.echo", Other(value=8))
        assert session.get_one(JobRun, other_id).args == {"value": 8}


def test_cron_slots_follow_the_time_zone_across_daylight_saving() -> None:
    timing = Timing(cron="30 2 * * *", timezone="Europe/Berlin")
    # 2025-03-30: clocks jump from 02:00 to 03:00 in Berlin; 02:30 does not exist that day.
    slots = list(
        timing.slots_between(
            datetime(2025, 3, 28, 12, tzinfo=UTC), datetime(2025, 4, 1, 12, tzinfo=UTC), 10
        )
    )
    assert slots[0] == datetime(2025, 3, 29, 1, 30, tzinfo=UTC)  # 02:30 CET
    assert slots[-1] == datetime(2025, 4, 1, 0, 30, tzinfo=UTC)  # 02:30 CEST
    assert all(slot.tzinfo is not None for slot in slots)
    assert timing.latest_at_or_before(datetime(2025, 4, 1, 0, 30, tzinfo=UTC)) == slots[-1]


def test_interval_slots_are_aligned_to_the_epoch() -> None:
    timing = Timing(every=timedelta(seconds=15))
    now = datetime(2025, 1, 1, 12, 0, 7, 123000, tzinfo=UTC)
    assert timing.latest_at_or_before(now) == datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert timing.next_after(now) == datetime(2025, 1, 1, 12, 0, 15, tzinfo=UTC)
    slots = list(timing.slots_between(now - timedelta(minutes=1), now, limit=2))
    assert slots == [
        datetime(2025, 1, 1, 11, 59, 45, tzinfo=UTC),
        datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC),
    ]
