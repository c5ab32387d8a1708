"""Router: which provider a request goes to, with which key and headers, and what it refuses."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from mitmproxy import http
from mitmproxy.test import taddons

from relayscope.config import DEMO, Config, Provider, ProxySettings
from relayscope.proxy.addons.context import CallContext, context_of
from relayscope.proxy.addons.router import Router
from relayscope.proxy.servers.demo import DEMO_MODELS, DemoServer
from tests.proxy.conftest import LISTEN_HOST, LISTEN_PORT, client_flow, error_of

pytestmark = pytest.mark.anyio

OPENAI = Provider(
    "openai", "https://api.openai.test/v1", api_key="sk-openai-key", models=("gpt-*", "o3*")
)
GATEWAY = Provider("gateway", "http://10.0.0.5:4000/v1", api_key="sk-gateway-key", default=True)
KEYLESS = Provider("keyless", "http://llm.lan:8080/v1", models=("qwen*",))
CONFIG = Config(providers=(OPENAI, GATEWAY, KEYLESS, DEMO))
NO_DEFAULT = replace(CONFIG, providers=(OPENAI, replace(GATEWAY, default=False), KEYLESS, DEMO))
TOKEN = "rs-token-0123456789abcdef"
WITH_TOKEN = replace(CONFIG, proxy=ProxySettings(host="0.0.0.0", access_token=TOKEN))
CHAT = {"model": "gpt-5.2", "messages": [{"role": "user", "content": "hi"}]}


async def route(
    config: Config,
    body: dict[str, object] | bytes | None = None,
    *,
    path: str = "/v1/chat/completions",
    method: str = "POST",
    headers: dict[str, str] | None = None,
    local_ports: dict[str, int] | None = None,
) -> tuple[http.HTTPFlow, CallContext]:
    """Run the Router's hooks on a client's request, as mitmproxy would."""
    router = Router(config, local_ports)
    flow = client_flow(path, CHAT if body is None else body, method=method, headers=headers)
    with taddons.context(router):
        router.requestheaders(flow)
        await router.request(flow)
    ctx = context_of(flow)
    assert ctx is not None
    return flow, ctx


def target(flow: http.HTTPFlow) -> str:
    return flow.request.url


def not_forwarded(flow: http.HTTPFlow) -> bool:
    """Answered by Relayscope itself: the request still points at the listener."""
    return (flow.request.host, flow.request.port) == (LISTEN_HOST, LISTEN_PORT)


# -- where a request goes ------------------------------------------------------------------


async def test_a_model_glob_picks_the_provider_and_the_path_follows_its_base_url() -> None:
    flow, ctx = await route(CONFIG, {**CHAT, "model": "o3-mini"}, path="/v1/chat/completions?x=1")
    assert flow.response is None
    assert target(flow) == "https://api.openai.test/v1/chat/completions?x=1"
    assert flow.request.headers["host"] == "api.openai.test"
    assert (ctx.provider, ctx.model, ctx.endpoint) == ("openai", "o3-mini", "chat.completions")
    assert json.loads(flow.request.content or b"") == {**CHAT, "model": "o3-mini"}  # untouched


async def test_the_provider_header_wins_over_the_model_glob() -> None:
    flow, ctx = await route(CONFIG, headers={"X-Relayscope-Provider": "keyless"})
    assert target(flow) == "http://llm.lan:8080/v1/chat/completions"
    assert ctx.provider == "keyless" and ctx.model == "gpt-5.2"


async def test_a_provider_prefix_routes_and_is_removed_from_the_model_sent_upstream() -> None:
    flow, ctx = await route(CONFIG, {**CHAT, "model": "keyless/gpt-5.2"})
    assert target(flow) == "http://llm.lan:8080/v1/chat/completions"
    assert json.loads(flow.request.content or b"")["model"] == "gpt-5.2"
    assert ctx.model == "gpt-5.2" and ctx.upstream_body_changed and ctx.quirks
    # What the client sent is kept as it was, for the recording.
    assert json.loads(ctx.client_body)["model"] == "keyless/gpt-5.2"


async def test_an_unknown_prefix_is_part_of_the_model_name() -> None:
    flow, ctx = await route(CONFIG, {**CHAT, "model": "meta-llama/llama-4"})
    assert ctx.provider == "gateway"  # no provider is called meta-llama: the default serves it
    assert json.loads(flow.request.content or b"")["model"] == "meta-llama/llama-4"


async def test_a_model_no_glob_matches_goes_to_the_default_provider() -> None:
    flow, ctx = await route(CONFIG, {**CHAT, "model": "mistral-large"})
    assert target(flow) == "http://10.0.0.5:4000/v1/chat/completions"
    assert ctx.provider == "gateway"


async def test_without_a_default_an_unserved_model_is_a_404_naming_the_model() -> None:
    flow, ctx = await route(NO_DEFAULT, {**CHAT, "model": "mistral-large"})
    assert flow.response is not None and flow.response.status_code == 404
    error = error_of(flow.response)
    assert (error["code"], error["param"]) == ("model_not_found", "model")
    assert "mistral-large" in error["message"]
    assert not_forwarded(flow) and ctx.answered_by_proxy


async def test_an_unknown_provider_header_is_a_404_not_a_guess() -> None:
    flow, _ = await route(CONFIG, headers={"X-Relayscope-Provider": "nope"})
    assert flow.response is not None and flow.response.status_code == 404
    assert error_of(flow.response)["code"] == "provider_not_found"
    assert not_forwarded(flow)


async def test_a_local_provider_is_reached_on_its_loopback_port_without_any_key() -> None:
    flow, ctx = await route(
        CONFIG,
        {**CHAT, "model": "demo-1"},
        headers={"Authorization": "Bearer sk-client-key"},
        local_ports={"demo": 41234},
    )
    assert target(flow) == "http://127.0.0.1:41234/v1/chat/completions"
    assert "authorization" not in flow.request.headers
    assert ctx.provider == "demo"


# -- keys and headers ----------------------------------------------------------------------


async def test_the_chosen_providers_key_replaces_the_clients() -> None:
    flow, _ = await route(CONFIG, headers={"Authorization": "Bearer sk-client-key"})
    assert flow.request.headers.get_all("authorization") == ["Bearer sk-openai-key"]
    flow, _ = await route(
        CONFIG, {**CHAT, "model": "x"}, headers={"Authorization": "Bearer sk-client-key"}
    )
    assert flow.request.headers.get_all("authorization") == ["Bearer sk-gateway-key"]


async def test_with_no_key_configured_the_clients_key_goes_on() -> None:
    flow, _ = await route(
        CONFIG, {**CHAT, "model": "qwen3"}, headers={"Authorization": "Bearer sk-client-key"}
    )
    assert flow.request.headers["authorization"] == "Bearer sk-client-key"


MESSAGES = {"model": "claude-sonnet-4-6", "max_tokens": 10, "messages": CHAT["messages"]}
CLIENT_KEYS = {"Authorization": "Bearer sk-client-key", "x-api-key": "sk-client-key"}


def key_headers(flow: http.HTTPFlow) -> tuple[list[str], list[str], list[str]]:
    headers = flow.request.headers
    return (
        headers.get_all("x-api-key"),
        headers.get_all("authorization"),
        headers.get_all("anthropic-version"),
    )


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/messages/count_tokens"])
async def test_messages_get_the_key_as_x_api_key_and_a_version_by_default(path: str) -> None:
    flow, ctx = await route(CONFIG, MESSAGES, path=path, headers=CLIENT_KEYS)
    assert target(flow) == f"http://10.0.0.5:4000{path}"  # routed by model: the default
    assert ctx.endpoint == path.removeprefix("/v1/").replace("/", ".")
    assert key_headers(flow) == (["sk-gateway-key"], [], ["2023-06-01"])


async def test_a_base_url_with_v1_twice_is_refused_with_the_fix() -> None:
    flow, _ = await route(CONFIG, MESSAGES, path="/v1/v1/messages")
    assert flow.response is not None and flow.response.status_code == 404
    assert "ANTHROPIC_BASE_URL=http://127.0.0.1:8787." in error_of(flow.response)["message"]
    assert not_forwarded(flow)


async def test_the_clients_anthropic_version_is_kept() -> None:
    headers = {**CLIENT_KEYS, "anthropic-version": "2024-10-22"}
    flow, _ = await route(CONFIG, MESSAGES, path="/v1/messages", headers=headers)
    assert key_headers(flow) == (["sk-gateway-key"], [], ["2024-10-22"])


@pytest.mark.parametrize(
    ("auth", "path", "expected"),
    [
        ("bearer", "/v1/messages", ([], ["Bearer sk-gateway-key"])),
        ("x-api-key", "/v1/chat/completions", (["sk-gateway-key"], [])),
        ("auto", "/v1/chat/completions", ([], ["Bearer sk-gateway-key"])),
    ],
)
async def test_a_providers_auth_setting_chooses_the_key_header(
    auth: str, path: str, expected: tuple[list[str], list[str]]
) -> None:
    config = replace(CONFIG, providers=(replace(GATEWAY, auth=auth),))
    body = MESSAGES if path == "/v1/messages" else CHAT
    flow, _ = await route(config, body, path=path, headers=CLIENT_KEYS)
    assert key_headers(flow)[:2] == expected


async def test_without_a_key_the_clients_x_api_key_goes_on_but_not_to_a_local_provider() -> None:
    body = {**MESSAGES, "model": "qwen3"}
    flow, _ = await route(CONFIG, body, path="/v1/messages", headers={"x-api-key": "sk-client"})
    assert key_headers(flow)[0] == ["sk-client"]
    body = {**MESSAGES, "model": "demo-echo"}
    flow, _ = await route(CONFIG, body, path="/v1/messages", headers={"x-api-key": "sk-client"})
    assert key_headers(flow)[0] == []


async def test_the_access_token_as_x_api_key_is_accepted_and_never_forwarded() -> None:
    body = {**MESSAGES, "model": "qwen3"}
    flow, _ = await route(WITH_TOKEN, body, path="/v1/messages", headers={"x-api-key": TOKEN})
    assert flow.response is None
    assert key_headers(flow)[:2] == ([], [])


async def test_our_headers_are_stripped_and_the_clients_others_kept() -> None:
    call_id = "0196a1b2c3d4-0a1b2c3d"
    flow, ctx = await route(
        CONFIG,
        headers={
            "X-Relayscope-Provider": "openai",
            "X-Relayscope-Call-Id": call_id,
            "X-Relayscope-Replay-Of": "0196a1b2c3d0-00000001",
            "X-Relayscope-Group": "cmp-1",
            "OpenAI-Beta": "assistants=v2",
        },
    )
    assert not [n for n in flow.request.headers if n.lower().startswith("x-relayscope-")]
    assert flow.request.headers["openai-beta"] == "assistants=v2"
    assert flow.request.headers["user-agent"] == "OpenAI/Python 2.8.1"
    # What the headers said is kept on the call.
    assert (ctx.id, ctx.replay_of, ctx.group_id) == (call_id, "0196a1b2c3d0-00000001", "cmp-1")
    assert ("X-Relayscope-Group", "cmp-1") in ctx.client_headers


async def test_a_malformed_call_id_header_is_ignored() -> None:
    _, ctx = await route(CONFIG, headers={"X-Relayscope-Call-Id": "../../etc/passwd"})
    assert ctx.id != "../../etc/passwd" and len(ctx.id) == len("0196a1b2c3d4-0a1b2c3d")


# -- the access token ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token"}, {"X-Relayscope-Token": "wrong-token"}],
    ids=["none", "wrong bearer", "wrong header"],
)
async def test_without_the_access_token_nothing_is_forwarded(headers: dict[str, str]) -> None:
    flow, ctx = await route(WITH_TOKEN, headers=headers)
    assert flow.response is not None and flow.response.status_code == 401
    assert error_of(flow.response)["code"] == "relayscope_token_required"
    assert not_forwarded(flow) and ctx.answered_by_proxy


async def test_the_access_token_as_api_key_never_leaves_the_machine() -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    flow, _ = await route(WITH_TOKEN, headers=bearer)
    assert flow.response is None
    assert flow.request.headers["authorization"] == "Bearer sk-openai-key"
    flow, _ = await route(WITH_TOKEN, {**CHAT, "model": "qwen3"}, headers=bearer)
    assert flow.response is None  # forwarded to the keyless provider, without the token
    assert "authorization" not in flow.request.headers


async def test_the_access_token_header_is_stripped() -> None:
    flow, _ = await route(
        WITH_TOKEN,
        {**CHAT, "model": "qwen3"},
        headers={"X-Relayscope-Token": TOKEN},
    )
    assert flow.response is None
    assert "x-relayscope-token" not in flow.request.headers


# -- what the Router answers itself --------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/chat/completions", "/v1beta/models", "/health"])
async def test_a_path_outside_v1_is_a_json_404_that_says_where_to_point(path: str) -> None:
    flow, ctx = await route(CONFIG, path=path)
    assert flow.response is not None and flow.response.status_code == 404
    error = error_of(flow.response)
    assert error["code"] == "not_found" and "/v1" in error["message"]
    assert not_forwarded(flow) and ctx.provider == "relayscope"


async def test_a_body_that_is_not_json_is_a_400() -> None:
    flow, _ = await route(CONFIG, b"model=gpt-5.2&stream=true")
    assert flow.response is not None and flow.response.status_code == 400
    assert error_of(flow.response)["code"] == "invalid_json"
    assert not_forwarded(flow)


async def test_a_non_json_body_goes_through_where_no_model_is_needed() -> None:
    flow, ctx = await route(CONFIG, b"\x00binary", path="/v1/files/file-1/content")
    assert flow.response is None and ctx.provider == "gateway"  # the default


async def test_no_model_and_no_default_is_a_400_asking_for_one() -> None:
    flow, _ = await route(NO_DEFAULT, {"messages": []})
    assert flow.response is not None and flow.response.status_code == 400
    assert error_of(flow.response)["code"] == "model_required"


async def test_a_websocket_upgrade_to_a_local_provider_is_a_426() -> None:
    flow, ctx = await route(
        CONFIG,
        b"",
        path="/v1/responses",
        method="GET",
        headers={
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "X-Relayscope-Provider": "demo",
        },
    )
    assert flow.response is not None and flow.response.status_code == 426
    assert error_of(flow.response)["code"] == "websocket_not_supported"
    assert ctx.extra.get("websocket")


async def test_models_lists_every_providers_models_and_which_could_not_answer() -> None:
    demo = DemoServer()
    await demo.start()
    down = Provider("down", "http://127.0.0.1:9/v1", api_key="sk-down")  # discard: refused
    try:
        flow, ctx = await route(
            Config(providers=(down, DEMO)),
            b"",
            path="/v1/models",
            method="GET",
            local_ports={"demo": demo.port},
        )
    finally:
        await demo.stop()
    assert flow.response is not None and flow.response.status_code == 200
    body = json.loads(flow.response.content or b"")
    assert [(m["id"], m["relayscope_provider"]) for m in body["data"]] == [
        (m, "demo") for m in DEMO_MODELS
    ]
    assert [e["provider"] for e in body["errors"]] == ["down"]
    assert ctx.provider == "*" and not_forwarded(flow)


async def test_models_with_a_provider_header_asks_that_provider() -> None:
    flow, _ = await route(
        CONFIG, b"", path="/v1/models", method="GET", headers={"X-Relayscope-Provider": "openai"}
    )
    assert flow.response is None
    assert target(flow) == "https://api.openai.test/v1/models"
