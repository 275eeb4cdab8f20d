"""What each named fake service does when asked, and the registry that holds it.

A :class:`Behaviour` is immutable and valid by construction; a
:class:`Behaviours` registry maps service names to behaviours and counts the
requests each name received. The HTTP control API and Python code share the
same registry and the same checks, so both reject the same input with the same
message (a :class:`BehaviourError`).
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from dataclasses import asdict, dataclass, fields
from typing import Literal, get_args

Mode = Literal["normal", "hang", "reset", "slow_body"]
MODES: tuple[str, ...] = get_args(Mode)

# 1xx codes are interim responses: no server can send one as the final answer.
MIN_STATUS, MAX_STATUS = 200, 599
# Long enough for any timeout demo, short enough that a typo cannot park a
# request for an hour.
MAX_DELAY = 60.0
MAX_CHUNKS = 100
# URL-safe characters only, so every name is usable in /svc/<name> as is; this
# admits every Django slug.
NAME_PATTERN = re.compile(r"[A-Za-z0-9._~-]{1,100}")


class BehaviourError(ValueError):
    """A behaviour field or service name is invalid; the message says how."""


def brief_repr(value: object) -> str:
    """``repr(value)``, cut short: error messages echo bad input, never a megabyte."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_status(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BehaviourError(f"status must be an integer, got {brief_repr(value)}")
    if not MIN_STATUS <= value <= MAX_STATUS:
        interim = 100 <= value < MIN_STATUS
        why = " (1xx codes are interim, never a final answer)" if interim else ""
        raise BehaviourError(
            f"status must be between {MIN_STATUS} and {MAX_STATUS}, got {value}{why}"
        )
    return value


def check_seconds(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BehaviourError(
            f"{field} must be a number of seconds, got {brief_repr(value)}"
        )
    if not math.isfinite(value) or not 0 <= value <= MAX_DELAY:
        raise BehaviourError(
            f"{field} must be between 0 and {MAX_DELAY:g} seconds, got {value!r}"
        )
    return float(value)


def check_chunks(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BehaviourError(f"chunks must be an integer, got {brief_repr(value)}")
    if not 1 <= value <= MAX_CHUNKS:
        raise BehaviourError(f"chunks must be between 1 and {MAX_CHUNKS}, got {value}")
    return value


def check_mode(value: object) -> Mode:
    if value not in MODES:
        raise BehaviourError(
            f"mode must be one of {', '.join(MODES)}; got {brief_repr(value)}"
        )
    return value  # type: ignore[return-value]


def check_name(name: object) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise BehaviourError(
            "a service name is 1 to 100 letters, digits, '.', '_', '~' or '-';"
            f" got {brief_repr(name)}"
        )
    return name


@dataclass(frozen=True)
class Behaviour:
    """How one fake service answers ``GET /svc/<name>``.

    ``normal``: wait ``delay`` seconds, then answer ``status``.
    ``hang``: never answer; return when the client goes away.
    ``reset``: wait ``delay`` seconds, then drop the TCP connection (RST).
    ``slow_body``: send the headers at once, then ``chunks`` body chunks,
    each after a pause of ``delay`` seconds.
    """

    status: int = 200
    delay: float = 0.0
    mode: Mode = "normal"
    chunks: int = 5

    def __post_init__(self) -> None:
        check_status(self.status)
        check_mode(self.mode)
        check_chunks(self.chunks)
        # An int delay is fine to pass; store it as the float it stands for.
        object.__setattr__(self, "delay", check_seconds(self.delay, "delay"))

    @classmethod
    def from_json(cls, data: object) -> Behaviour:
        """Build from decoded JSON, naming any field that is not ours."""
        if not isinstance(data, dict):
            raise BehaviourError(
                'the body must be a JSON object such as {"status": 503, "delay": 0.5}'
            )
        unknown = sorted(set(data) - FIELD_NAMES)
        if unknown:
            raise BehaviourError(
                f"unknown field(s): {', '.join(map(brief_repr, unknown))};"
                f" allowed: {', '.join(sorted(FIELD_NAMES))}"
            )
        return cls(**data)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


FIELD_NAMES = frozenset(field.name for field in fields(Behaviour))
DEFAULT = Behaviour()


class Behaviours:
    """Behaviours by service name, plus how many requests each name received.

    Names never set behave as :data:`DEFAULT`. Safe to use from several
    threads: a test thread changes behaviours while :class:`UpstreamThread`
    serves requests from its own.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_name: dict[str, Behaviour] = {}
        self._hits: Counter[str] = Counter()

    def get(self, name: str) -> Behaviour:
        with self._lock:
            return self._by_name.get(name, DEFAULT)

    def set(
        self,
        name: str,
        *,
        status: int = 200,
        delay: float = 0.0,
        mode: Mode = "normal",
        chunks: int = 5,
    ) -> Behaviour:
        """Replace the behaviour of ``name``; fields not given take their defaults."""
        behaviour = Behaviour(status=status, delay=delay, mode=mode, chunks=chunks)
        return self.put(name, behaviour)

    def put(self, name: str, behaviour: Behaviour) -> Behaviour:
        check_name(name)
        with self._lock:
            self._by_name[name] = behaviour
        return behaviour

    def reset(self, name: str | None = None) -> None:
        """Forget the behaviour and hit count of ``name``, or of every name."""
        with self._lock:
            if name is None:
                self._by_name.clear()
                self._hits.clear()
            else:
                self._by_name.pop(name, None)
                self._hits.pop(name, None)

    def record_hit(self, name: str) -> None:
        with self._lock:
            self._hits[name] += 1

    def hits(self, name: str) -> int:
        with self._lock:
            return self._hits[name]

    def as_dict(self) -> dict[str, dict]:
        """What ``GET /_control`` shows: the names set and the hits counted."""
        with self._lock:
            return {
                "services": {n: b.as_dict() for n, b in sorted(self._by_name.items())},
                "hits": dict(sorted(self._hits.items())),
            }
