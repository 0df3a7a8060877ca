"""The ingress's retry rule: only a request whose model replica died is sent again (no Ray started)."""

from __future__ import annotations

import asyncio

import pytest


class Flaky:
    """Fails with ``errors`` in turn, then answers ``"done"``."""

    def __init__(self, *errors: Exception) -> None:
        self.errors, self.calls = list(errors), 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def test_a_request_whose_replica_died_is_sent_again():
    from ray.exceptions import ActorDiedError, ActorUnavailableError
    from ray.serve.exceptions import ReplicaUnavailableError

    from neuronhead.serve.app import with_retries

    flaky = Flaky(ActorDiedError(), ReplicaUnavailableError("r1"), ActorUnavailableError("gone", None))
    assert asyncio.run(with_retries(flaky, 3)) == "done"
    assert flaky.calls == 4
    flaky = Flaky(ActorDiedError(), ActorDiedError())
    with pytest.raises(ActorDiedError):
        asyncio.run(with_retries(flaky, 1))
    assert flaky.calls == 2


def test_any_other_error_is_not_sent_again():
    from neuronhead.serve.app import with_retries
    from neuronhead.serve.requests import BadRequest

    for error in (BadRequest(422, "no"), ValueError("a bug in the model"), RuntimeError("x")):
        flaky = Flaky(error)
        with pytest.raises(type(error)):
            asyncio.run(with_retries(flaky, 3))
        assert flaky.calls == 1
