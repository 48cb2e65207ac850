"""Adds our command hook to Claude Code's settings.json, and takes exactly that away again.

The user's own hooks (and every other setting) are left as they are: ours are the entries
whose command is exactly HOOK_COMMAND, appended as a group of their own to each event, so
uninstalling removes those groups' entries and nothing else.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

HOOK_COMMAND = "clone-recording hook claude-code"
# Ours: the script (by name or by path, maybe quoted), then `hook claude-code`.
OURS = re.compile(r"^(?:\S*/)?'?clone-recording'? hook claude-code(?: |$)")
# Tool events take a matcher (every tool); the others have none.
TOOL_EVENTS = ("PreToolUse", "PostToolUse", "PostToolUseFailure")
OTHER_EVENTS = (
    "SessionStart", "SessionEnd", "UserPromptSubmit", "Stop", "SubagentStop", "Notification",
    "PreCompact",
)  # fmt: skip
TIMEOUT_SECONDS = 10  # ours returns in tens of milliseconds; this bounds a stuck disk


class SettingsError(ValueError):
    """settings.json exists but is not a JSON object with a `hooks` object we can edit."""


def settings_path(scope: str, project_dir: Path | None = None) -> Path:
    """`.claude/settings.json` of the project (the current folder) or of the user."""
    if scope == "user":
        return (
            Path(os.environ.get("CLAUDE_CONFIG_DIR") or Path.home() / ".claude") / "settings.json"
        )
    return (project_dir or Path.cwd()) / ".claude" / "settings.json"


def hook_command(url: str | None = None) -> str:
    """Our command, with the script's absolute path when it is not on PATH (a virtualenv)."""
    script = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    on_path = shutil.which("clone-recording")
    if (
        script is not None
        and script.name == "clone-recording"
        and (on_path is None or Path(on_path).resolve() != script)
    ):
        command = f"{shlex.quote(str(script))} hook claude-code"
    else:
        command = HOOK_COMMAND
    return command + (f" --url {shlex.quote(url)}" if url else "")


def _ours(command: str) -> dict[str, Any]:
    return {"type": "command", "command": command, "timeout": TIMEOUT_SECONDS}


def _load(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        settings = json.loads(path.read_text(encoding="utf-8") or "{}")
    except ValueError as exc:
        raise SettingsError(f"{path} is not valid JSON ({exc}); fix it first") from exc
    if not isinstance(settings, dict) or not isinstance(settings.get("hooks", {}), dict):
        raise SettingsError(f"{path}: expected a JSON object whose 'hooks' is an object")
    return settings


def _save(path: Path, settings: dict[str, Any]) -> None:
    """Write through a temporary file and a rename: a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".clone-recording.tmp")
    temporary.write_text(json.dumps(settings, indent=2, ensure_ascii=False) + "\n", "utf-8")
    temporary.replace(path)


def _is_ours(hook: Any) -> bool:
    return (
        isinstance(hook, dict)
        and hook.get("type") == "command"
        and isinstance(hook.get("command"), str)
        and OURS.match(hook["command"]) is not None
    )


def install(path: Path, command: str = HOOK_COMMAND) -> list[str]:
    """Add our hook to every event it is not on yet; the events it was added to.

    An event that already has one of ours (any URL) keeps it: uninstall, then install, to
    change the URL."""
    settings = _load(path)
    hooks = settings.setdefault("hooks", {})
    added = []
    for event in TOOL_EVENTS + OTHER_EVENTS:
        groups = hooks.setdefault(event, [])
        if not isinstance(groups, list):
            raise SettingsError(f"{path}: hooks.{event} is not a list")
        present = any(
            _is_ours(hook)
            for group in groups if isinstance(group, dict)
            for hook in group.get("hooks", []) if isinstance(group.get("hooks"), list)
        )  # fmt: skip
        if present:
            continue
        group: dict[str, Any] = {"matcher": "*"} if event in TOOL_EVENTS else {}
        group["hooks"] = [_ours(command)]
        groups.append(group)
        added.append(event)
    _save(path, settings)
    return added


def uninstall(path: Path) -> list[str]:
    """Remove our hook entries (and groups, events, `hooks` they leave empty); the events."""
    settings = _load(path)
    hooks = settings.get("hooks")
    if not isinstance(hooks, dict):
        return []
    removed = []
    for event in list(hooks):
        groups = hooks[event]
        if not isinstance(groups, list):
            continue
        kept_groups = []
        for group in groups:
            entries = group.get("hooks") if isinstance(group, dict) else None
            if not isinstance(entries, list) or not any(_is_ours(h) for h in entries):
                kept_groups.append(group)
                continue
            if event not in removed:
                removed.append(event)
            rest = [h for h in entries if not _is_ours(h)]
            if rest:
                kept_groups.append({**group, "hooks": rest})
        if kept_groups:
            hooks[event] = kept_groups
        elif event in removed:
            del hooks[event]
    if removed and not hooks:
        del settings["hooks"]
    if removed:
        _save(path, settings)
    return removed
