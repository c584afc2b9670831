"""One logging pipeline for structlog and stdlib logging (uvicorn, sqlalchemy, hvac...): one JSON
object per line, the acting request id and actor on each line, card numbers and secrets masked."""

from __future__ import annotations

import functools
import logging
import re
import sys
from collections.abc import Mapping
from typing import IO, Any

import orjson
import structlog
from structlog.types import EventDict, Processor, WrappedLogger

from core import context
from core.sensitive import MASK, is_secret_name, mask_card_numbers, redact
from core.settings import Settings

# Loggers that third parties configure with their own handlers; ours must own them.
_TAKEN_OVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
# uvicorn's ANSI-coloured copy of its message, and the `message` another formatter may have
# cached on the record: noise in JSON.
_DROPPED_KEYS = ("color_message", "message")
# Keys first on each line, in this order, so a human reading raw lines finds them at once.
_LEADING_KEYS = ("timestamp", "level", "logger", "event")
_HANDLER_MARK = "_rampart_handler"
# Exception plumbing that format_exc_info renders later; masking happens after that.
_UNTOUCHED_KEYS = frozenset({"exc_info", "stack_info"})
# `name=value` pairs in free text (query strings in access logs, "password=..." in messages).
_ASSIGNMENT = re.compile(r"([A-Za-z0-9_.\-]+)=([^&\s\"',;]+)")
# Cheap C-speed pre-check: no run of 13 digits (spaces/dashes between), no card number possible.
_MAYBE_CARD = re.compile(r"\d(?:[ -]?\d){12}")
# Keys whose values the pipeline writes itself; never secret, never a card number.
_TRUSTED_KEYS = frozenset({"timestamp", "level", "logger", "actor"})


@functools.lru_cache(maxsize=4096)
def _is_secret_key(name: str) -> bool:
    # Log keys repeat endlessly (event, level, timestamp...): cache the regex verdict.
    return is_secret_name(name)


def _mask_assignment(match: re.Match[str]) -> str:
    return f"{match.group(1)}={MASK}" if _is_secret_key(match.group(1)) else match.group()


def mask_text(text: str) -> str:
    """``text`` with card numbers and the values of secret-named ``name=value`` pairs masked."""
    if "=" in text:
        text = _ASSIGNMENT.sub(_mask_assignment, text)
    return mask_card_numbers(text) if _MAYBE_CARD.search(text) else text


def redact_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a log event with secret-named keys and card numbers masked."""
    masked: dict[str, Any] = {}
    for key, value in event.items():
        if key in _TRUSTED_KEYS or key in _UNTOUCHED_KEYS or key.startswith("_"):
            masked[key] = value  # ours, or plumbing rendered (and masked) later
        elif _is_secret_key(key) and value not in (None, ""):
            masked[key] = MASK
        elif isinstance(value, str):
            masked[key] = mask_text(value)
        elif isinstance(value, int | float | bool) or value is None:
            masked[key] = redact(value)
        else:
            masked[key] = redact(value if isinstance(value, Mapping | list | tuple) else str(value))
    return masked


def mask_sensitive(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    """structlog processor: mask card numbers and secret-named fields (exceptions included)."""
    return redact_event(event)


def add_acting_context(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    """structlog processor: the request id and actor of the current request, job or command."""
    acting = context.current()
    if acting.request_id is not None:
        event.setdefault("request_id", acting.request_id)
    event.setdefault("actor", acting.actor)
    return event


def _from_record(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    """foreign_pre_chain: the masked traceback the filter rendered; none of uvicorn's noise."""
    for key in _DROPPED_KEYS:
        event.pop(key, None)
    record = event.get("_record")
    exc_text = getattr(record, "exc_text", None)
    if exc_text and "exception" not in event:
        event["exception"] = exc_text
    return event


class SensitiveDataFilter(logging.Filter):
    """stdlib filter: masks a record's message, arguments, exception and structlog event.

    :func:`configure_logging` applies it to every record as it is created, before any handler
    (an operator's, pytest's) sees it. The exception is rendered to ``exc_text`` here, masked,
    and ``exc_info`` cleared, so no formatter can render the unmasked exception message again.
    """

    _traceback_formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = mask_text(self._traceback_formatter.formatException(record.exc_info))
            record.exc_info = None
        if isinstance(record.msg, Mapping):  # a structlog event wrapped for the formatter
            event = redact_event(record.msg)
            if record.exc_text and event.pop("exc_info", None):
                event["exception"] = record.exc_text
            record.msg = event
            return True
        if record.args:
            try:
                message = record.getMessage()
            except (TypeError, ValueError):  # malformed %-format: keep the raw parts, masked
                message = f"{record.msg} {record.args!r}"
            record.msg, record.args = mask_text(message), None
        else:
            record.msg = mask_text(str(record.msg))
        return True


def _dumps(event: dict[str, Any], **_kwargs: Any) -> str:
    ordered = {key: event[key] for key in _LEADING_KEYS if key in event}
    ordered.update(event)
    return orjson.dumps(ordered, default=repr).decode()


def _shared_processors() -> list[Processor]:
    return [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_acting_context,
    ]


def _renderer(settings: Settings) -> Processor:
    if settings.log_json:
        return structlog.processors.JSONRenderer(serializer=_dumps)
    return structlog.dev.ConsoleRenderer(colors=False)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at emit time (test capture, redirection), never to a
    stream closed since the handler was built."""

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, _value: IO[str]) -> None:
        pass


def build_handler(settings: Settings, stream: IO[str] | None = None) -> logging.Handler:
    """The one handler: every record, structlog's or stdlib's, is formatted and masked here."""
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_shared_processors(), structlog.stdlib.ExtraAdder(), _from_record],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            # Last before rendering, so tracebacks and exception messages are masked too.
            mask_sensitive,
            _renderer(settings),
        ],
    )
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(formatter)
    setattr(handler, _HANDLER_MARK, True)
    return handler


def _install_masking_record_factory() -> None:
    """Mask every record as it is created, whoever handles it afterwards. Installed once."""
    current = logging.getLogRecordFactory()
    if getattr(current, _HANDLER_MARK, False):
        return
    sensitive_filter = SensitiveDataFilter()

    def masking_record_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        sensitive_filter.filter(record)
        return record

    setattr(masking_record_factory, _HANDLER_MARK, True)
    logging.setLogRecordFactory(masking_record_factory)


def configure_logging(settings: Settings, stream: IO[str] | None = None) -> None:
    """Route structlog and stdlib logging through one masked handler. Idempotent: calling it
    again replaces Rampart's handler instead of adding a second one."""
    level = logging.getLevelName(settings.log_level.upper())
    if not isinstance(level, int):
        level = logging.INFO
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    _install_masking_record_factory()
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(build_handler(settings, stream))
    root.setLevel(level)
    for name in _TAKEN_OVER_LOGGERS:
        taken = logging.getLogger(name)
        taken.handlers.clear()
        taken.propagate = True
    logging.captureWarnings(True)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A structlog logger named like a stdlib one (``__name__``)."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
