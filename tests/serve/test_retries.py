"""The ingress's retry rule: only a request whose model replica died is sent again (no Ray started)."""

from __future__ import annotations

import asyncio

import pytest


class Flaky:
    """Fails with ``errors`` in turn, then answers ``"done"``."""

    def __init__(self, *errors: Exception) -> None:
        self.errors, self.calls, self.resent = list(errors), 0, 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"

    def count(self) -> None:
        self.resent += 1


def test_a_request_whose_replica_died_is_sent_again():
    from ray.exceptions import ActorDiedError, ActorUnavailableError
    from ray.serve.exceptions import ReplicaUnavailableError

    from neuronhead.serve.app import with_retries

    flaky = Flaky(ActorDiedError(), ReplicaUnavailableError("r1"), ActorUnavailableError("gone", None))
    assert asyncio.run(with_retries(flaky, 3, flaky.count)) == "done"
    assert (flaky.calls, flaky.resent) == (4, 3)
    flaky = Flaky(ActorDiedError(), ActorDiedError())
    with pytest.raises(ActorDiedError):
        asyncio.run(with_retries(flaky, 1, flaky.count))
    assert (flaky.calls, flaky.resent) == (2, 1)


def test_any_other_error_is_not_sent_again():
    from neuronhead.serve.app import with_retries
    from neuronhead.serve.requests import BadRequest

    for error in (BadRequest(422, "no"), ValueError("a bug in the model"), RuntimeError("x")):
        flaky = Flaky(error)
        with pytest.raises(type(error)):
            asyncio.run(with_retries(flaky, 3, flaky.count))
        assert (flaky.calls, flaky.resent) == (1, 0)
