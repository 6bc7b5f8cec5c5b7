"""The LLM seam through litellm against the OpenAI-compatible stand-in server on loopback."""

from __future__ import annotations

import pytest

from repomind.pipeline.llm import Budget, BudgetExceeded, Completion, LiteLLMModel, LLMError, price
from repomind.testing import ScriptedHTTPError, ScriptedModel, StandInLLMServer
from repomind.testing.llm import count_tokens

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello."}]


def model(server: StandInLLMServer, name: str = "openai/stand-in", **kw: object) -> LiteLLMModel:
    sleeps: list[float] = []
    m = LiteLLMModel(name, api_base=server.url, sleep=sleeps.append, timeout_s=10, **kw)  # type: ignore[arg-type]
    m.sleeps = sleeps  # type: ignore[attr-defined]
    return m


def test_reply_tokens_and_unknown_price() -> None:
    with StandInLLMServer(["hello there"]) as server:
        reply = model(server, max_tokens=50).complete(MESSAGES)  # type: ignore[arg-type]
    assert reply.text == "hello there"
    assert (reply.prompt_tokens, reply.completion_tokens) == (count_tokens("Be brief.\nSay hello."), 2)
    assert reply.cost_usd is None  # a model litellm has no price for: unknown, never 0
    assert reply.model == "openai/stand-in" and reply.seconds > 0
    sent = server.requests[0]
    assert sent["messages"] == MESSAGES and sent["max_tokens"] == 50 and sent["temperature"] == 0
    assert server.authorization[0] == "Bearer sk-repomind-local"  # a dummy key for a local server


def test_known_model_is_priced_from_the_local_map() -> None:
    with StandInLLMServer(["ok"]) as server:
        reply = model(server, "openai/gpt-4o-mini").complete(MESSAGES)  # type: ignore[arg-type]
    expected = price("openai/gpt-4o-mini", reply.prompt_tokens, reply.completion_tokens)
    assert expected is not None and expected > 0
    assert reply.cost_usd == pytest.approx(expected)


def test_transient_errors_are_retried() -> None:
    with StandInLLMServer([ScriptedHTTPError(503), ScriptedHTTPError(429), "fine"]) as server:
        m = model(server)
        assert m.complete(MESSAGES).text == "fine"  # type: ignore[arg-type]
    assert len(server.requests) == 3 and m.sleeps == [2.0, 4.0]  # type: ignore[attr-defined]


def test_client_errors_are_not_retried() -> None:
    server = StandInLLMServer([ScriptedHTTPError(400, "bad request"), "never sent"])
    with server, pytest.raises(LLMError, match="400") as info:
        model(server).complete(MESSAGES)  # type: ignore[arg-type]
    assert not info.value.transient and len(server.requests) == 1


def test_retries_give_up() -> None:
    server = StandInLLMServer([ScriptedHTTPError(500)] * 3)
    with server, pytest.raises(LLMError, match="500") as info:
        model(server, retries=2).complete(MESSAGES)  # type: ignore[arg-type]
    assert info.value.transient and len(server.requests) == 3


def test_unreachable_server_is_a_transient_error() -> None:
    with StandInLLMServer() as server:
        url = server.url
    m = LiteLLMModel("openai/x", api_base=url, retries=1, sleep=lambda _s: None, timeout_s=5)
    with pytest.raises(LLMError, match="cannot reach the model") as info:
        m.complete(MESSAGES)  # type: ignore[arg-type]
    assert info.value.transient


def test_no_model_is_a_clear_error() -> None:
    with pytest.raises(LLMError, match="no model given"):
        LiteLLMModel(" ")


def test_budget_tokens_and_dollars() -> None:
    budget = Budget(max_tokens=100, max_usd=0.01)
    budget.check(upcoming_tokens=90)
    budget.charge(Completion("x", 60, 20, 0.004, "m", 0.1))
    with pytest.raises(BudgetExceeded, match="token budget of 100 exhausted"):
        budget.check(upcoming_tokens=30)
    budget.charge(Completion("x", 1, 1, 0.007, "m", 0.1))
    with pytest.raises(BudgetExceeded, match="dollar budget"):
        Budget(max_usd=0.01, usd=budget.usd).check()
    assert budget.cost_usd == pytest.approx(0.011)


def test_unknown_price_makes_the_cost_unknown() -> None:
    budget = Budget(max_usd=1.0)
    budget.charge(Completion("x", 10, 10, 0.5, "a", 0.1))
    budget.charge(Completion("x", 10, 10, None, "b", 0.1))
    assert budget.cost_usd is None and budget.tokens == 40
    assert "price of b is unknown" in budget.notes[0]


def test_scripted_model_records_and_runs_out() -> None:
    m = ScriptedModel(["one"])
    assert m.complete(MESSAGES).text == "one"  # type: ignore[arg-type]
    with pytest.raises(LLMError, match="no reply left"):
        m.complete(MESSAGES)  # type: ignore[arg-type]
    assert len(m.conversations) == 2
