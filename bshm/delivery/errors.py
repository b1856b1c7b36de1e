"""Delivery failures (reported and retried by the next run; never raised to the analysis)."""

from __future__ import annotations

from bshm.errors import BshmError


class DeliveryFailure(BshmError):
    """A destination did not acknowledge an alarm.

    Parameters
    ----------
    message : str
        One line: what failed and what to check.
    retry : bool
        Whether trying again soon can help (an outage) or not (refused
        credentials, a rejected request): then this run stops retrying.
    """

    def __init__(self, message: str, *, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry
