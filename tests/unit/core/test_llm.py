"""The OpenAI-compatible provider against the local chat-completions stand-in: the wire format,
error translation (one place, messages that name the setting to check, the key never echoed), one
retry of transient failures, and structured output with one repair turn."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from browserfleet.core.browsing.llm import (
    ChatRequest,
    ChatResponse,
    Image,
    LLMBadOutput,
    LLMNotConfigured,
    LLMProviderError,
    Message,
    OpenAICompatible,
    OutputInvalid,
    ToolSpec,
    build_provider,
    chat_parsed,
)
from browserfleet.core.errors import ErrorCode
from browserfleet.settings import Settings
from tests.support._ports import free_port
from tests.support.llm_standin import (
    LLM_KEY,
    LLMStandIn,
    call,
    garbage_body,
    http_error,
    raw_call,
    text,
)

CLICK = ToolSpec(
    "click",
    "Click an element",
    {"type": "object", "properties": {"index": {"type": "integer"}}, "required": ["index"]},
)


@pytest.fixture(scope="module")
def llm_server() -> Iterator[LLMStandIn]:
    with LLMStandIn() as server:
        yield server


@pytest.fixture
def llm(llm_server: LLMStandIn) -> LLMStandIn:
    llm_server.play([])
    return llm_server


def provider(llm: LLMStandIn, **kw: object) -> OpenAICompatible:
    options: dict[str, object] = {"api_key": SecretStr(LLM_KEY), "timeout_s": 5.0, "retry_delay_s": 0.01}
    options.update(kw)
    return OpenAICompatible(llm.url, "scripted-model", **options)  # type: ignore[arg-type]


def ask(text_: str = "go", *, images: tuple[Image, ...] = ()) -> ChatRequest:
    return ChatRequest(
        messages=(Message("system", "be brief"), Message("user", text_, images=images)),
        tools=(CLICK,),
        tool_choice="required",
    )


async def test_tool_call_round_trip_and_wire_format(llm: LLMStandIn) -> None:
    llm.play([call("click", index=7)])
    async with provider(llm) as model:
        answer = await model.chat(ask("click the button"))
    assert [(c.name, json.loads(c.arguments)) for c in answer.tool_calls] == [("click", {"index": 7})]
    assert answer.finish_reason == "tool_calls" and answer.usage.prompt_tokens == 100
    sent = llm.requests[0].body
    assert sent["model"] == "scripted-model" and sent["tool_choice"] == "required"
    assert sent["temperature"] == 0.0
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {"name": "click", "description": "Click an element", "parameters": CLICK.parameters},
        }
    ]
    assert sent["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "click the button"},
    ]
    # the conversation continues with the assistant's calls and the tool's answer
    follow_up = ChatRequest(
        messages=(
            Message("user", "go"),
            answer.as_message(),
            Message("tool", "clicked", tool_call_id=answer.tool_calls[0].id),
        )
    )
    llm.play([text("all done")])
    async with provider(llm) as model:
        final = await model.chat(follow_up)
    assert final.content == "all done" and final.tool_calls == ()
    messages = llm.requests[0].body["messages"]
    assert messages[1]["tool_calls"][0]["function"] == {"name": "click", "arguments": '{"index": 7}'}
    assert messages[2] == {"role": "tool", "content": "clicked", "tool_call_id": answer.tool_calls[0].id}


async def test_images_are_sent_only_to_models_that_take_them(llm: LLMStandIn) -> None:
    shot = Image(b"\x89PNG fake")
    llm.play([text("seen"), text("seen")])
    async with provider(llm, accepts_images=True) as model:
        await model.chat(ask("look", images=(shot,)))
    async with provider(llm) as model:
        await model.chat(ask("look", images=(shot,)))
    with_images, without = (r.body["messages"][1]["content"] for r in llm.requests)
    assert with_images[0] == {"type": "text", "text": "look"}
    assert with_images[1]["image_url"]["url"] == "data:image/png;base64,iVBORyBmYWtl"
    assert without == "look"


async def test_a_wrong_key_names_the_setting_and_is_not_retried(llm: LLMStandIn) -> None:
    async with provider(llm, api_key=SecretStr("sk-wrong-secret")) as model:
        with pytest.raises(LLMProviderError) as caught:
            await model.chat(ask())
    assert "HTTP 401" in caught.value.message and "BROWSERFLEET_LLM_API_KEY" in caught.value.message
    assert "sk-wrong-secret" not in caught.value.message and "sk-wrong-secret" not in repr(model)
    assert len(llm.requests) == 0  # refused before the script: the stand-in records only authorised calls
    assert caught.value.code is ErrorCode.LLM_PROVIDER_ERROR and not caught.value.code.billable


async def test_transient_errors_are_retried_once(llm: LLMStandIn) -> None:
    llm.play([http_error(503, "overloaded"), call("click", index=1)])
    async with provider(llm) as model:
        answer = await model.chat(ask())
    assert answer.tool_calls[0].name == "click" and len(llm.requests) == 2

    llm.play([http_error(500, "boom"), http_error(502, "still down")])
    async with provider(llm) as model:
        with pytest.raises(LLMProviderError) as caught:
            await model.chat(ask())
    assert caught.value.message == "The model provider answered HTTP 502: still down"
    assert len(llm.requests) == 2


async def test_a_body_that_is_not_a_completion_is_a_provider_error(llm: LLMStandIn) -> None:
    llm.play([garbage_body()])
    async with provider(llm) as model:
        with pytest.raises(LLMProviderError, match="not a chat completion"):
            await model.chat(ask())


async def test_unreachable_and_slow_providers(llm: LLMStandIn) -> None:
    dead = OpenAICompatible(f"http://127.0.0.1:{free_port()}/v1", "m", retry_delay_s=0.01)
    with pytest.raises(LLMProviderError, match=r"could not be reached \(ConnectError\).*LLM_BASE_URL"):
        await dead.chat(ask())
    await dead.aclose()
    llm.play([text("late", delay_s=1.0)])
    async with provider(llm, timeout_s=0.3) as model:
        with pytest.raises(LLMProviderError, match=r"did not answer within 0\.3 s"):
            await model.chat(ask())
    assert len(llm.requests) == 1  # a timeout is not retried


def parse_click(answer: ChatResponse) -> int:
    if not answer.tool_calls:
        raise OutputInvalid("no tool was called")
    try:
        return int(json.loads(answer.tool_calls[0].arguments)["index"])
    except (ValueError, KeyError) as exc:
        raise OutputInvalid(f"click: arguments are not valid ({exc})") from exc


async def test_structured_output_is_repaired_once(llm: LLMStandIn) -> None:
    llm.play([raw_call("click", "{index: seven"), call("click", index=7)])
    async with provider(llm) as model:
        parsed = await chat_parsed(model, ask(), parse_click)
    assert parsed.value == 7 and parsed.repaired
    repair = llm.requests[1].body["messages"]
    assert repair[-2] == {"role": "assistant", "content": "[called click with {index: seven]"}
    assert (
        repair[-1]["role"] == "user"
        and "could not be used: click: arguments are not valid" in repair[-1]["content"]
    )


async def test_garbage_twice_is_bad_output(llm: LLMStandIn) -> None:
    llm.play([text("I think the answer is 42"), text("lorem ipsum")])
    async with provider(llm) as model:
        with pytest.raises(LLMBadOutput) as caught:
            await chat_parsed(model, ask(), parse_click)
    assert caught.value.message.startswith(
        "The model's output could not be used twice in a row: no tool was called"
    )
    assert caught.value.code is ErrorCode.LLM_BAD_OUTPUT and len(llm.requests) == 2


def test_settings_build_the_provider_or_say_what_is_missing() -> None:
    with pytest.raises(LLMNotConfigured, match=r"BROWSERFLEET_LLM_BASE_URL.*BROWSERFLEET_LLM_MODEL"):
        build_provider(Settings(llm_base_url="http://127.0.0.1:1/v1"))
    built = build_provider(
        Settings(llm_base_url="http://h/v1/", llm_model="m1", llm_api_key="k", llm_vision=True), model="m2"
    )
    assert isinstance(built, OpenAICompatible)
    assert (built.base_url, built.model, built.accepts_images) == ("http://h/v1", "m2", True)
