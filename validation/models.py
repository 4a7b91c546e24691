"""The canonical conversation model every format is normalised to.

`Message` and `Conversation` are frozen Pydantic v2 values. Fields a row carries beyond the
canonical ones are kept (`extra="allow"` on messages, `metadata` on conversations), so that
converting a dataset never drops data silently.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from validation.content import Part

Role = Literal["system", "user", "assistant", "tool"]
ROLES: tuple[str, ...] = ("system", "user", "assistant", "tool")
# Role names other tools write, and the role each means (`--fix` maps them; the checks say so).
ROLE_ALIASES = {"human": "user", "gpt": "assistant", "bot": "assistant", "model": "assistant", "ai": "assistant",
                "chatgpt": "assistant", "function": "tool", "observation": "tool", "ipython": "tool"}


class FunctionCall(BaseModel):
    """The function an assistant asks to call; `arguments` is a JSON string or an object."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    name: StrictStr
    arguments: str | dict[str, Any] = Field(default_factory=dict)


class ToolCall(BaseModel):
    """One tool call of an assistant turn (OpenAI shape)."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    id: StrictStr | None = None
    type: Literal["function"] = "function"
    function: FunctionCall


class Message(BaseModel):
    """One turn. Unknown per-message keys (e.g. `weight`) are kept as extras. `content` is a string,
    or a list of text and image parts (validation/content.py: `text_of` gives its text); it may be
    None beside `tool_calls` (OpenAI's layout for a turn that only calls tools); validation reports a
    null content anywhere else (`null-content`) and rendering refuses it. (No model validator:
    one in Python would run for every message built, on the hot paths too.)"""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    role: Role
    content: StrictStr | list[Part] | None
    name: StrictStr | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: StrictStr | None = None

    def to_dict(self) -> dict[str, Any]:
        """The message as a plain dict, without the optional fields that are unset (a null
        content beside tool calls is kept: templates render it as they render None)."""
        data = self.model_dump(exclude_none=True)
        if self.content is None:  # (in its place, after the role)
            data = {"role": data.pop("role"), "content": None, **data}
        return data


def as_dicts(messages: list[Message]) -> list[dict[str, Any]]:
    """Messages as plain dicts (`Message.to_dict` each), as templates and files take them."""
    return [m.to_dict() for m in messages]


class Conversation(BaseModel):
    """A list of messages plus the row's other fields, kept verbatim in `metadata`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    messages: list[Message]
    metadata: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def of(cls, messages: Any, **metadata: Any) -> Conversation:
        """Build a conversation from a `Conversation`, a list of `Message` or plain dicts.

        Example:
            >>> Conversation.of([{"role": "user", "content": "hi"}]).messages[0].role
            'user'
        """
        if isinstance(messages, Conversation):
            return messages
        return cls.model_validate({"messages": list(messages), "metadata": metadata})  # errors at messages.N.field


class Preference(BaseModel):
    """A preference pair: the prompt, then the reply to prefer and the one to avoid (DPO)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: list[Message]
    chosen: list[Message]
    rejected: list[Message]
    metadata: dict[str, Any] = Field(default_factory=dict)


class Unpaired(BaseModel):
    """One reply to a prompt, marked desirable (`label` true) or not (KTO)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: list[Message]
    completion: list[Message]
    label: bool
    metadata: dict[str, Any] = Field(default_factory=dict)
