"""A scheduler replica for the multi-process test: declares an every-second schedule, ticks for
a while, and prints each slot it fired (slot, fired-at) as one JSON line."""

from __future__ import annotations

import json
import sys
import time
from datetime import timedelta

from core.clock import utcnow
from core.jobs import JobsConfig, load_job_modules, schedule
from core.jobs.scheduler import Scheduler
from core.settings import get_settings


def main(seconds: float) -> None:
    load_job_modules(["tests.core.jobs.sample_jobs"])
    schedule("tests.every_second", "tests.tick", every=timedelta(seconds=1), catch_up="all")
    scheduler = Scheduler(JobsConfig.from_settings(get_settings()))
    stop_at = time.monotonic() + seconds
    while time.monotonic() < stop_at:
        for fired in scheduler.tick():
            if fired.schedule == "tests.every_second":
                line = {"slot": fired.slot.isoformat(), "fired_at": utcnow().isoformat()}
                sys.stdout.write(json.dumps(line) + "\n")
                sys.stdout.flush()
        time.sleep(min(scheduler.seconds_until_next(), max(0.0, stop_at - time.monotonic())))


if __name__ == "__main__":
    main(float(sys.argv[1]))
