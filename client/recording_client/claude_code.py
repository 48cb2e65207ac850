"""Claude Code's hook inputs and transcript lines as Recording events (pure functions).

One mapping for every path that records Claude Code: the service's http-hook endpoint, the
`clone-recording hook claude-code` command hook and `clone-recording import claude-code`.
Ids come from declared natural keys (`event_id`), never from a digest of a whole input, so
the same hook posted twice is one event while two identical-looking events stay two.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping

from recording_client import events
from recording_client.ids import event_id

AGENT = "Claude Code"
SOURCE_DETAIL = "claude-code"
# Fields of every hook input kept in `attributes` (the rest are the event's own).
CONTEXT_FIELDS = (
    "hook_event_name",
    "cwd",
    "permission_mode",
    "prompt_id",
    "transcript_path",
    "agent_id",
    "agent_type",
    "model",
    "effort",
)
FILE_TOOLS = {
    "Write": None,
    "Edit": "modified",
    "MultiEdit": "modified",
    "NotebookEdit": "modified",
}
# Long text is cut to keep each event well under the service's 1 MiB event limit.
MAX_TEXT = 200_000
MAX_DIFF_SOURCE = 50_000
EXIT_CODE = re.compile(r"(?:exit(?:ed)?|status)(?: with)?(?: non-zero)?(?: status)? code (-?\d+)")

# Not typing.TYPE_CHECKING: the hook command's path must not import typing (~5 ms).
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any

    Event = dict[str, Any]


class NotAHookInput(ValueError):
    """The JSON is not a Claude Code hook input (no session_id or hook_event_name)."""


def clip(text: str, limit: int = MAX_TEXT) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} more characters cut by the recorder]"


def bounded(value: Any) -> Any:
    """`value` with every string clipped, so tool inputs (a Write's content) stay bounded."""
    if isinstance(value, str):
        return clip(value)
    if isinstance(value, list):
        return [bounded(item) for item in value]
    if isinstance(value, dict):
        return {key: bounded(item) for key, item in value.items()}
    return value


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def text_of(value: Any) -> str:
    """A tool's output as text: strings as they are, Bash's stdout and stderr, else JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("stdout"), str):
        stderr = value.get("stderr")
        return str(value["stdout"]) + (f"\n{stderr}" if isinstance(stderr, str) and stderr else "")
    if isinstance(value, list):  # content blocks: [{"type": "text", "text": ...}, ...]
        texts = [b.get("text") for b in value if isinstance(b, dict) and b.get("type") == "text"]
        if texts and all(isinstance(t, str) for t in texts):
            return "\n".join(str(t) for t in texts)
    return json.dumps(value, ensure_ascii=False, default=str)


def _context(hook: Mapping[str, Any]) -> dict[str, Any]:
    return {name: hook[name] for name in CONTEXT_FIELDS if hook.get(name) is not None}


def _exit_code(hook: Mapping[str, Any]) -> int | None:
    response = hook.get("tool_response")
    if isinstance(response, dict):
        for name in ("exit_code", "exitCode", "returnCode"):
            if isinstance(response.get(name), int) and not isinstance(response[name], bool):
                return int(response[name])
    error = hook.get("error")
    if isinstance(error, str) and (found := EXIT_CODE.search(error)):
        return int(found.group(1))
    return 0 if hook.get("hook_event_name") == "PostToolUse" else None


def _file_change(hook: Mapping[str, Any]) -> tuple[str, str, str | None] | None:
    """(path, change, diff) for a successful file tool, else None."""
    tool_input = hook.get("tool_input")
    if hook.get("tool_name") not in FILE_TOOLS or not isinstance(tool_input, dict):
        return None
    path = tool_input.get("file_path") or tool_input.get("notebook_path")
    if not isinstance(path, str):
        return None
    change = FILE_TOOLS[str(hook["tool_name"])]
    if change is None:  # Write: its answer says whether the file was new
        response = hook.get("tool_response")
        created = isinstance(response, dict) and response.get("type") == "create"
        change = "created" if created else "modified"
    return path, change, _edit_diff(path, tool_input)


def _edit_diff(path: str, tool_input: Mapping[str, Any]) -> str | None:
    """A unified diff of an Edit's (or MultiEdit's) replaced text, when it is small."""
    edits = tool_input.get("edits")
    pairs = [
        (e.get("old_string"), e.get("new_string"))
        for e in (edits if isinstance(edits, list) else [tool_input])
        if isinstance(e, dict)
    ]
    texts = [(o, n) for o, n in pairs if isinstance(o, str) and isinstance(n, str)]
    if not texts or len(texts) != len(pairs):
        return None
    if sum(len(o) + len(n) for o, n in texts) > MAX_DIFF_SOURCE:
        return None
    import difflib  # only here: the hook command skips its import otherwise

    lines: list[str] = []
    for old, new in texts:
        lines += difflib.unified_diff(
            old.splitlines(), new.splitlines(), fromfile=path, tofile=path, n=1, lineterm=""
        )
    return "\n".join(lines) + "\n" if lines else None


def from_hook(hook: Mapping[str, Any], occurred_at: str) -> list[Event]:
    """The events one hook input stands for; `occurred_at` is when it was captured.

    Raises NotAHookInput when the input lacks the two fields every hook input has.
    """
    session, name = hook.get("session_id"), hook.get("hook_event_name")
    if not isinstance(session, str) or not session:
        raise NotAHookInput("a Claude Code hook input has a string 'session_id'")
    if not isinstance(name, str) or not name:
        raise NotAHookInput("a Claude Code hook input has a string 'hook_event_name'")
    envelope: dict[str, Any] = {
        "occurred_at": occurred_at,
        "source": "agent",
        "source_detail": SOURCE_DETAIL,
    }
    context = _context(hook)
    call_id = hook.get("tool_use_id") if isinstance(hook.get("tool_use_id"), str) else None
    tool = str(hook.get("tool_name") or "unknown")

    if name == "SessionStart":
        attributes = {**context, "source": hook.get("source")} if hook.get("source") else context
        return [
            events.session_started(
                session,
                cwd=_str(hook.get("cwd")),
                id=event_id(session, name, str(hook.get("source"))),
                attributes=attributes,
                **envelope,
            )
        ]
    if name == "SessionEnd":
        return [
            events.session_stopped(
                session,
                reason=_str(hook.get("reason")),
                id=event_id(session, name),
                attributes=context,
                **envelope,
            )
        ]
    if name == "UserPromptSubmit" and isinstance(hook.get("prompt"), str):
        prompt = str(hook["prompt"])
        key = (
            ("prompt", hook["prompt_id"])
            if isinstance(hook.get("prompt_id"), str)
            else ("prompt", occurred_at, digest(prompt))  # older versions send no prompt_id
        )
        return [
            events.prompt(
                session,
                agent=AGENT,
                prompt=clip(prompt),
                id=event_id(session, *key),
                attributes=context,
                **envelope,
            )
        ]
    if name == "PreToolUse" and call_id:
        return [
            events.tool_call(
                session,
                agent=AGENT,
                tool=tool,
                call_id=call_id,
                input=bounded(hook.get("tool_input")),
                id=event_id(session, call_id, name),
                attributes=context,
                **envelope,
            )
        ]
    if name in ("PostToolUse", "PostToolUseFailure") and call_id:
        return _tool_result(hook, session, name, tool, call_id, context, envelope)
    if name in ("Stop", "SubagentStop") and isinstance(hook.get("last_assistant_message"), str):
        message = str(hook["last_assistant_message"])
        who = hook.get("agent_id") if name == "SubagentStop" else None
        return [
            events.response(
                session,
                agent=AGENT,
                response=clip(message),
                id=event_id(session, name, str(who or ""), digest(message)),
                attributes=context,
                **envelope,
            )
        ]
    return [note_of_hook(hook, session, name, occurred_at, envelope)]


def _tool_result(
    hook: Mapping[str, Any],
    session: str,
    name: str,
    tool: str,
    call_id: str,
    context: dict[str, Any],
    envelope: dict[str, Any],
) -> list[Event]:
    failed = name == "PostToolUseFailure"
    output = text_of(hook.get("error") if failed else hook.get("tool_response"))
    attributes = dict(context)
    if failed and hook.get("is_interrupt") is not None:
        attributes["is_interrupt"] = hook["is_interrupt"]
    found = [
        events.tool_result(
            session,
            agent=AGENT,
            tool=tool,
            call_id=call_id,
            output=clip(output),
            is_error=failed,
            id=event_id(session, call_id, name),
            attributes=attributes,
            **envelope,
        )
    ]
    given = hook.get("tool_input")
    tool_input: Mapping[str, Any] = given if isinstance(given, dict) else {}
    if tool == "Bash" and isinstance(tool_input.get("command"), str):
        found.append(
            events.command(
                session,
                command=clip(tool_input["command"]),
                cwd=_str(hook.get("cwd")),
                exit_code=_exit_code(hook),
                output=clip(output),
                id=event_id(session, call_id, name, "command"),
                attributes=context,
                **envelope,
            )
        )
    if not failed and (change := _file_change(hook)) is not None:
        path, kind, diff = change
        found.append(
            events.file_changed(
                session,
                path=path,
                change=kind,
                diff=diff,
                id=event_id(session, call_id, name, "file"),
                attributes=context,
                **envelope,
            )
        )
    return found


def note_of_hook(
    hook: Mapping[str, Any], session: str, name: str, occurred_at: str, envelope: dict[str, Any]
) -> Event:
    """Any other hook (Notification, PreCompact, …): a note that keeps the whole input.

    Such inputs have no natural key, so the capture instant is part of the id: the command
    hook stamps it once and keeps it through retries.
    """
    message = hook.get("message")
    text = f"{name}: {message}" if isinstance(message, str) and message else name
    raw = json.dumps(hook, sort_keys=True, ensure_ascii=False, default=str)
    return events.note(
        session,
        text=clip(text),
        id=event_id(session, name, occurred_at, digest(raw)),
        attributes={"hook": bounded(dict(hook))},
        **envelope,
    )


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


# The transcript: ~/.claude/projects/<project>/<session>.jsonl, one JSON object a line.


class Transcript:
    """Maps a transcript's lines in order; it remembers tool names and opened sessions.

    User lines carry prompts (text) or tool results; assistant lines carry text and tool
    calls (thinking is not recorded). Other lines (summaries, system lines, snapshots) are
    skipped. Each event's id comes from its line's uuid and its place in the line.
    """

    def __init__(self) -> None:
        self.tools: dict[str, str] = {}  # tool_use_id -> tool name, to name each result
        self.started: set[str] = set()

    def events(self, line: Mapping[str, Any]) -> list[Event]:
        session, uuid, when = line.get("sessionId"), line.get("uuid"), line.get("timestamp")
        message = line.get("message")
        if not all(isinstance(v, str) and v for v in (session, uuid, when)):
            return []
        if not isinstance(message, dict) or line.get("type") not in ("user", "assistant"):
            return []
        session, uuid, when = str(session), str(uuid), str(when)
        envelope: dict[str, Any] = {
            "occurred_at": when,
            "source": "agent",
            "source_detail": SOURCE_DETAIL,
        }
        attributes = {
            key: line[key]
            for key in ("uuid", "parentUuid", "cwd", "gitBranch", "version")
            if line.get(key) is not None
        }
        found: list[Event] = []
        if session not in self.started:
            self.started.add(session)
            found.append(
                events.session_started(
                    session,
                    cwd=_str(line.get("cwd")),
                    id=event_id(session, "transcript", "start"),
                    attributes={"from": "transcript", "gitBranch": line.get("gitBranch")},
                    **envelope,
                )
            )
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if not isinstance(blocks, list):
            return found
        user = line["type"] == "user"
        for index, block in enumerate(blocks):
            if isinstance(block, dict):
                key = event_id(session, "transcript", uuid, index)
                event = self._block(
                    session,
                    user,
                    bool(line.get("isMeta")),
                    block,
                    message,
                    key,
                    attributes,
                    envelope,
                )
                if event is not None:
                    found.append(event)
        return found

    def _block(
        self,
        session: str,
        user: bool,
        meta: bool,
        block: Mapping[str, Any],
        message: Mapping[str, Any],
        key: str,
        attributes: dict[str, Any],
        envelope: dict[str, Any],
    ) -> Event | None:
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str) and block["text"].strip():
            if user and meta:
                return None  # Claude Code's own notices in the user's place, not prompts
            if user:
                return events.prompt(
                    session,
                    agent=AGENT,
                    prompt=clip(block["text"]),
                    id=key,
                    attributes=attributes,
                    **envelope,
                )
            return _transcript_response(session, message, block["text"], key, attributes, envelope)
        if kind == "tool_use" and isinstance(block.get("id"), str) and not user:
            self.tools[block["id"]] = str(block.get("name") or "unknown")
            return events.tool_call(
                session,
                agent=AGENT,
                tool=self.tools[block["id"]],
                call_id=block["id"],
                input=bounded(block.get("input")),
                id=key,
                attributes=attributes,
                **envelope,
            )
        if kind == "tool_result" and isinstance(block.get("tool_use_id"), str) and user:
            call = block["tool_use_id"]
            return events.tool_result(
                session,
                agent=AGENT,
                tool=self.tools.get(call, "unknown"),
                call_id=call,
                output=clip(text_of(block.get("content"))),
                is_error=bool(block.get("is_error")),
                id=key,
                attributes=attributes,
                **envelope,
            )
        return None


def from_transcript(lines: Iterable[Mapping[str, Any]]) -> Iterator[Event]:
    """Every event of a transcript's lines, in order."""
    transcript = Transcript()
    for line in lines:
        yield from transcript.events(line)


def _transcript_response(
    session: str,
    message: Mapping[str, Any],
    text: str,
    key: str,
    attributes: dict[str, Any],
    envelope: dict[str, Any],
) -> Event:
    given = message.get("usage")
    usage: Mapping[str, Any] = given if isinstance(given, dict) else {}
    tokens = {
        name: usage[name]
        for name in ("input_tokens", "output_tokens")
        if isinstance(usage.get(name), int) and usage[name] >= 0
    }
    model = message.get("model")
    return events.response(
        session,
        agent=AGENT,
        response=clip(text),
        model=model if isinstance(model, str) and len(model) <= 200 else None,
        id=key,
        attributes=attributes,
        **tokens,
        **envelope,
    )


def read_transcript(lines: Iterable[bytes | str]) -> Iterator[Mapping[str, Any]]:
    """Parse a transcript's lines, skipping blank and broken ones (a line being written)."""
    for raw in lines:
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except ValueError:
            continue
        if isinstance(value, dict):
            yield value
