"""Two transactions at once: the first holds its transaction open while the second runs in another thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session


def second_while_first_open(engine: Engine, first: Callable[[Session], Any],
                            second: Callable[[Session], Any]) -> tuple[bool, dict]:
    """``first(session)`` in a transaction left open; ``second(session)`` in its own transaction on a thread; the
    first commits after a second. Returns whether the second was still waiting then, and its ``result`` or
    ``error``."""
    box: dict = {}
    held = Session(engine)
    held.begin()
    first(held)

    def run_second() -> None:
        try:
            with Session(engine) as s, s.begin():
                box["result"] = second(s)
        except Exception as exc:  # handed back to the test
            box["error"] = exc

    thread = threading.Thread(target=run_second)
    thread.start()
    thread.join(1.0)
    waited = thread.is_alive()
    held.commit()
    held.close()
    thread.join(15)
    return waited, box
