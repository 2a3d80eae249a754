"""LLM chat: any OpenAI-compatible endpoint (xAI by default, or a local server), Anthropic as fallback.

Both speak the shapes in shared/contracts/ (openai-chat.md, anthropic-messages.md). Completions are
cached by their full request, so re-materialising a batch re-uses the same text instead of paying
twice. When no model is configured, `LlmResource.configured` is False and callers use templates.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Protocol, TypeVar

import httpx
from pydantic import BaseModel, Field, PrivateAttr

from jengu_pipeline.resources.call_ledger import CallStore
from jengu_pipeline.resources.call_policy import ProviderLimits
from jengu_pipeline.resources.calls import (
    ProviderCaller,
    ProviderConfigError,
    ProviderError,
    QuotaExhausted,
    combined_error,
)
from jengu_pipeline.resources.http_provider import HttpProvider, HttpRequest
from jengu_pipeline.resources.redaction import redacting_logger
from jengu_pipeline.resources.runtime import ProviderResource

log = redacting_logger(__name__)
T = TypeVar("T")

OPERATION = "chat"
XAI_BASE_URL = "https://api.x.ai/v1"
ANTHROPIC_BASE_URL = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"
JSON_INSTRUCTION = "Answer with one JSON object and nothing else."


@dataclass(frozen=True)
class Prompt:
    """One question to a chat model; `json_mode` asks for a single JSON object."""

    system: str
    user: str
    max_tokens: int = 600
    temperature: float = 0.7
    json_mode: bool = False


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class Completion:
    """The model's text and what it cost; `truncated` when it stopped at the token limit."""

    text: str
    model: str
    provider: str
    finish_reason: str
    usage: Usage

    @property
    def truncated(self) -> bool:
        return self.finish_reason in {"length", "max_tokens"}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Completion:
        return cls(**{**data, "usage": Usage(**data["usage"])})


def _finished(data: dict[str, Any]) -> bool:
    """Only complete answers are cached: a truncated or filtered one should be asked again."""
    return data["finish_reason"] in {"stop", "end_turn"}


class ChatModel(Protocol):
    @property
    def provider(self) -> str: ...

    async def complete(self, prompt: Prompt, *, batch_id: str | None = None) -> Completion: ...

    async def aclose(self) -> None: ...


class _OpenAiError(BaseModel):
    code: str | None = None
    type: str | None = None
    message: str = ""


class _OpenAiErrorBody(BaseModel):
    error: _OpenAiError = Field(default_factory=_OpenAiError)


class _OpenAiMessage(BaseModel):
    content: str | None = None


class _OpenAiChoice(BaseModel):
    message: _OpenAiMessage
    finish_reason: str | None = None


class _OpenAiUsage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _OpenAiAnswer(BaseModel):
    model: str = ""
    choices: list[_OpenAiChoice] = Field(min_length=1)
    usage: _OpenAiUsage = Field(default_factory=_OpenAiUsage)


def _error_body(response: httpx.Response) -> _OpenAiErrorBody:
    try:
        return _OpenAiErrorBody.model_validate_json(response.content)
    except ValueError:
        return _OpenAiErrorBody()


class _ChatClient(HttpProvider, ABC):
    """What both chat clients share: the prompt as one request body, POSTed to `path` through the caller and
    cached by that body (complete answers only), the answer read into a `Completion`."""

    path: ClassVar[str]

    def __init__(
        self, caller: ProviderCaller, base_url: str, *, headers: dict[str, str], api_key: str, model: str
    ) -> None:
        super().__init__(caller, base_url, headers=headers, secrets=[api_key])
        self.model = model

    async def complete(self, prompt: Prompt, *, batch_id: str | None = None) -> Completion:
        body = self._body(prompt)
        data = await self.request(
            OPERATION,
            HttpRequest("POST", self.path, json=body),
            self._parse,
            cache_params=body,
            batch_id=batch_id,
            cacheable=_finished,
            errors=self._errors,
        )
        return Completion.from_json(data)

    @abstractmethod
    def _body(self, prompt: Prompt) -> dict[str, Any]:
        """The request body in the provider's shape."""

    @abstractmethod
    def _errors(self, response: httpx.Response) -> ProviderError | None:
        """The provider's own failures (out of credit, unknown model), read before the HTTP status."""

    @abstractmethod
    def _parse(self, response: httpx.Response) -> dict[str, Any]:
        """A `Completion` as JSON (it goes to the cache) from the provider's answer."""


class OpenAiChat(_ChatClient):
    """``POST {base_url}/chat/completions``; an empty key suits local servers that need none."""

    path = "/chat/completions"

    def __init__(self, caller: ProviderCaller, *, api_key: str, model: str, base_url: str = XAI_BASE_URL) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        super().__init__(caller, base_url, headers=headers, api_key=api_key, model=model)

    def _body(self, prompt: Prompt) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": prompt.system},
                {"role": "user", "content": prompt.user},
            ],
            "temperature": prompt.temperature,
            "max_tokens": prompt.max_tokens,
        }
        if prompt.json_mode:
            body["response_format"] = {"type": "json_object"}
        return body

    def _errors(self, response: httpx.Response) -> ProviderError | None:
        if response.status_code not in (404, 429):
            return None
        error = _error_body(response).error
        if error.code == "insufficient_quota":  # out of credit: retrying cannot help
            return QuotaExhausted(self.provider, OPERATION, error.message)
        if response.status_code == 404:
            return ProviderConfigError(self.provider, OPERATION, f"unknown model {self.model!r}: {error.message}")
        return None

    def _parse(self, response: httpx.Response) -> dict[str, Any]:
        answer = _OpenAiAnswer.model_validate_json(response.content)
        choice = answer.choices[0]
        usage = Usage(answer.usage.prompt_tokens, answer.usage.completion_tokens)
        completion = Completion(
            choice.message.content or "", answer.model or self.model, self.provider, choice.finish_reason or "", usage
        )
        return asdict(completion)


class _AnthropicBlock(BaseModel):
    type: str
    text: str = ""


class _AnthropicUsage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0


class _AnthropicAnswer(BaseModel):
    model: str = ""
    content: list[_AnthropicBlock]
    stop_reason: str | None = None
    usage: _AnthropicUsage = Field(default_factory=_AnthropicUsage)


class _AnthropicError(BaseModel):
    type: str = ""
    message: str = ""


class _AnthropicErrorBody(BaseModel):
    error: _AnthropicError = Field(default_factory=_AnthropicError)


class AnthropicMessages(_ChatClient):
    """``POST /v1/messages`` with ``anthropic-version: 2023-06-01``; 529 overloaded is retried as a 5xx."""

    path = "/v1/messages"

    def __init__(self, caller: ProviderCaller, *, api_key: str, model: str, base_url: str = ANTHROPIC_BASE_URL) -> None:
        headers = {"x-api-key": api_key, "anthropic-version": ANTHROPIC_VERSION}
        super().__init__(caller, base_url, headers=headers, api_key=api_key, model=model)

    def _body(self, prompt: Prompt) -> dict[str, Any]:
        return {
            "model": self.model,
            "max_tokens": prompt.max_tokens,
            "system": f"{prompt.system}\n\n{JSON_INSTRUCTION}" if prompt.json_mode else prompt.system,
            "messages": [{"role": "user", "content": prompt.user}],
            "temperature": prompt.temperature,
        }

    def _errors(self, response: httpx.Response) -> ProviderError | None:
        if response.status_code not in (400, 404):
            return None
        try:
            error = _AnthropicErrorBody.model_validate_json(response.content).error
        except ValueError:
            return None
        if "credit balance" in error.message.lower():
            return QuotaExhausted(self.provider, OPERATION, error.message)
        if error.type == "not_found_error":
            return ProviderConfigError(self.provider, OPERATION, f"unknown model {self.model!r}: {error.message}")
        return None

    def _parse(self, response: httpx.Response) -> dict[str, Any]:
        answer = _AnthropicAnswer.model_validate_json(response.content)
        text = "".join(block.text for block in answer.content if block.type == "text")
        usage = Usage(answer.usage.input_tokens, answer.usage.output_tokens)
        return asdict(Completion(text, answer.model or self.model, self.provider, answer.stop_reason or "", usage))


class FallbackChat:
    """Asks each configured model in turn; the first answer wins, so one provider's outage is survivable."""

    provider = "llm"

    def __init__(self, models: Sequence[ChatModel]) -> None:
        self.models = list(models)

    async def complete(self, prompt: Prompt, *, batch_id: str | None = None) -> Completion:
        errors: list[ProviderError] = []
        for model in self.models:
            try:
                return await model.complete(prompt, batch_id=batch_id)
            except ProviderError as error:
                log.warning("LLM %s failed, trying the next one: %s", model.provider, error)
                errors.append(error)
        raise combined_error(self.provider, OPERATION, errors)

    async def aclose(self) -> None:
        for model in self.models:
            await model.aclose()


class LlmResource(ProviderResource):
    """The ``llm`` resource: an OpenAI-compatible model first, Anthropic second, templates if neither."""

    api_key: str = Field(default="", description="Key of the OpenAI-compatible endpoint (secret, EnvVar).")
    base_url: str = Field(default=XAI_BASE_URL, description="Any OpenAI-compatible base URL, local ones too.")
    model: str = "grok-4-fast"
    provider_name: str = Field(default="xai", description="Name in the call ledger and quota table.")
    limits: ProviderLimits = ProviderLimits(concurrency=4, timeout_seconds=60.0)
    anthropic_api_key: str = Field(default="", description="Anthropic key (secret, EnvVar); empty = no fallback.")
    anthropic_base_url: str = ANTHROPIC_BASE_URL
    anthropic_model: str = "claude-haiku-4-5"
    anthropic_limits: ProviderLimits = ProviderLimits(concurrency=4, timeout_seconds=60.0)

    _chat: FallbackChat = PrivateAttr()

    @property
    def configured(self) -> bool:
        """Whether any model is configured; when none is, callers fall back to templates."""
        return self._openai_configured or bool(self.anthropic_api_key)

    @property
    def _openai_configured(self) -> bool:
        # A keyless endpoint other than xAI's is a local server (vLLM, llama.cpp, Ollama).
        return bool(self.api_key or self.base_url != XAI_BASE_URL)

    def build_chat(self, store: CallStore) -> FallbackChat:
        """Fresh clients for the configured models (another resource may run them on its own loop)."""
        models: list[ChatModel] = []
        if self._openai_configured:
            caller = ProviderCaller(self.provider_name, store, self.limits)
            models.append(OpenAiChat(caller, api_key=self.api_key, model=self.model, base_url=self.base_url))
        if self.anthropic_api_key:
            caller = ProviderCaller("anthropic", store, self.anthropic_limits)
            models.append(
                AnthropicMessages(
                    caller,
                    api_key=self.anthropic_api_key,
                    model=self.anthropic_model,
                    base_url=self.anthropic_base_url,
                )
            )
        return FallbackChat(models)

    def _open(self, store: CallStore) -> None:
        self._chat = self.build_chat(store)
        self._closers.append(self._chat.aclose)

    def complete(self, prompt: Prompt, *, batch_id: str | None = None) -> Completion:
        """One completion from the first model that answers; raises `ProviderError` when none does."""
        return self._run(self._chat.complete(prompt, batch_id=batch_id))

    def run_with_models(self, work: Callable[[Sequence[ChatModel]], Coroutine[Any, Any, T]]) -> T:
        """Run async work over the configured models, most preferred first, on this resource's loop."""
        return self._run(work(self._chat.models))


def parse_json_answer(text: str) -> Any:
    """The JSON object inside a model's answer, tolerating code fences and prose around it."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ValueError("no JSON object in the answer")
    return json.loads(text[start : end + 1])
