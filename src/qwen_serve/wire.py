"""What qwen-serve's clients read from a server, as types: every field is checked before it is used, so a server
that sends the wrong shape (a usage count as a string, an event that is a list, a model id that is a number) gives one
line naming what was wrong, never a traceback or a wrong figure."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError


class _Read(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Usage(_Read):
    completion_tokens: StrictInt | None = Field(None, ge=0)
    prompt_tokens: StrictInt | None = Field(None, ge=0)


class Choice(_Read):
    text: StrictStr | None = None
    finish_reason: StrictStr | None = None


class StreamEvent(_Read):
    """One `data:` line of a streamed /v1/completions answer."""

    choices: list[Choice] = []
    usage: Usage | None = None


class Model(_Read):
    id: StrictStr = Field(min_length=1, max_length=1024)


class ModelList(_Read):
    """/v1/models."""

    data: list[Model] = []


NO_MODEL = "lists no model"


def first_model(status: int, content: bytes) -> tuple[str | None, str]:
    """The one reading of a /v1/models answer for every client: its first model id, or None and why not in words
    ("answered HTTP 404 with no model list", "answered HTTP 200 with no model list (data.0.id: …)", NO_MODEL)."""
    if status == 200:
        try:
            models = ModelList.model_validate_json(content)
        except ValidationError as exc:
            return None, f"answered HTTP 200 with no model list ({why(exc, 80)})"
        return (models.data[0].id, "") if models.data else (None, NO_MODEL)
    return None, f"answered HTTP {status} with no model list"


def why(error: ValidationError, limit: int = 160, whole: str = "the answer") -> str:
    """A validation error as one short line: where the first wrong field is (`whole` when it is the whole thing) and
    what it should have been."""
    first = error.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or whole
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"[:limit]


class Logprobs(_Read):
    tokens: list[StrictStr] = []
    top_logprobs: list[dict[str, float] | None] = []


class CompletionChoice(_Read):
    text: StrictStr | None = None
    logprobs: Logprobs | None = None


class Completion(_Read):
    """A /v1/completions answer, not streamed."""

    choices: list[CompletionChoice] = Field(min_length=1)


__all__ = [
    "Choice",
    "Completion",
    "CompletionChoice",
    "Logprobs",
    "Model",
    "ModelList",
    "StreamEvent",
    "Usage",
    "NO_MODEL",
    "ValidationError",
    "first_model",
    "why",
]
