"""The chat REPL (`rag chat`); follow-ups are made standalone by rag.followup.

run_chat takes its ask/read/write callables, so the loop runs the same under a terminal
(prompt_toolkit, see terminal_io) and under tests (plain functions).
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from newsrag.rag.errors import RagError
from newsrag.rag.followup import Message
from newsrag.rag.phrasing import differs_meaningfully, reads_as_question
from newsrag.rag.records import Answer
from newsrag.rag.wrapping import WordWrap

if TYPE_CHECKING:
    from newsrag.rag.records import AnswerEvent

log = logging.getLogger(__name__)

PROMPT = ">>> "
CONTINUATION = "... "
BLOCK = '"""'
MAX_HISTORY_MESSAGES = 20
HELP = f"""\
Ask a question about the indexed news and press Enter; answers cite passages as [n].
Follow-ups ("and how many researchers?") are read in the context of the conversation.
  /help      this help
  /sources   the passages behind the last answer
  /reset     forget the conversation
  /exit      leave (Ctrl-D works too)
Several lines: start and end a block with {BLOCK}, or press Alt-Enter (Esc, Enter) for a newline.
Ctrl-C cancels an answer in progress, or clears the line at the prompt.
"""

Ask = Callable[[str, list[Message]], Iterator["AnswerEvent"]]
Read = Callable[[str], str]
Write = Callable[[str], None]


@dataclass
class _ChatState:
    history: list[Message] = field(default_factory=list)
    last: Answer | None = None


def run_chat(ask: Ask, read: Read, write: Write) -> None:
    """The REPL: read a question or /command, stream its answer, until /exit or Ctrl-D."""
    state = _ChatState()
    while True:
        try:
            line = read(PROMPT)
        except KeyboardInterrupt:
            continue  # Ctrl-C at the prompt clears the line
        except EOFError:
            write("\n")
            return
        text = _read_block(line, read) if line.strip().startswith(BLOCK) else line.strip()
        if not text:
            continue
        if text.startswith("/"):
            if not _run_command(text, state, write):
                return
            continue
        answer = _ask_once(ask, text, state.history, write)
        if answer is not None:
            state.last = answer
            state.history += [
                {"role": "user", "content": text},
                {"role": "assistant", "content": answer.answer},
            ]
            del state.history[:-MAX_HISTORY_MESSAGES]


def _read_block(first: str, read: Read) -> str:
    """Lines between an opening and a closing triple quote (Ctrl-C drops the block)."""
    rest = first.strip()[len(BLOCK) :]
    if rest.rstrip().endswith(BLOCK):  # """all on one line"""
        return rest.rstrip()[: -len(BLOCK)].strip()
    lines = [rest]
    while True:
        try:
            line = read(CONTINUATION)
        except KeyboardInterrupt:
            return ""
        except EOFError:
            break
        if line.rstrip().endswith(BLOCK):
            lines.append(line.rstrip()[: -len(BLOCK)])
            break
        lines.append(line)
    return "\n".join(lines).strip()


def _run_command(command: str, state: _ChatState, write: Write) -> bool:
    """Run a /command; False means leave the loop."""
    name = command.split()[0].lower()
    if name in ("/exit", "/quit", "/bye"):
        return False
    if name in ("/help", "/?"):
        write(HELP)
    elif name == "/reset":
        state.history.clear()
        state.last = None
        write("Conversation cleared.\n")
    elif name == "/sources":
        write(_format_sources(state.last, full=True))
    else:
        write(f"Unknown command {name}; /help lists them.\n")
    return True


def _ask_once(ask: Ask, question: str, history: list[Message], write: Write) -> Answer | None:
    """Stream one answer; None when it was cancelled (Ctrl-C) or failed."""
    streamed: list[str] = []
    answer: Answer | None = None
    events = ask(question, list(history))
    try:
        for event in events:
            if event.kind == "token":
                write(event.text)
                streamed.append(event.text)
            elif event.kind == "answer":
                answer = event.answer
    except KeyboardInterrupt:
        write("\n[cancelled]\n")
        return None
    except RagError as exc:
        write(f"\nerror: {exc}\n")
        return None
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()
    if answer is None:
        write("\nerror: no answer came back\n")
        return None
    write(_format_answer(answer, "".join(streamed), question))
    return answer


def _format_answer(answer: Answer, streamed: str, question: str) -> str:
    """What follows the streamed tokens: the verified answer if it differs, notes, sources."""
    out: list[str] = []
    if not streamed.strip():
        out.append(answer.answer)
    elif " ".join(streamed.split()) != " ".join(answer.answer.split()):
        out.append(f"\n\nVerified answer: {answer.answer}")
    notes = []
    if worth_showing(question, answer.standalone_question):
        notes.append(f"read as: {answer.standalone_question}")
    if answer.degraded:
        notes.append("the LLM failed; this is the extractive answer")
    if not answer.answerable:
        notes.append(f"no answer: {answer.refusal_reason}")
    if answer.dropped_markers:
        notes.append(f"{answer.dropped_markers} unknown citation marker(s) removed")
    text = "".join(out) + "\n"
    text += "".join(f"({note})\n" for note in notes)
    return text + _format_sources(answer, full=False) + "\n"


def worth_showing(question: str, rewritten: str | None) -> bool:
    """Show the rewritten follow-up only when it says more than the question and reads as one."""
    return bool(rewritten) and (
        differs_meaningfully(question, rewritten or "") and reads_as_question(rewritten or "")
    )


def _format_sources(answer: Answer | None, *, full: bool) -> str:
    """The numbered source list of an answer (with passages when full)."""
    if answer is None:
        return "No answer yet.\n"
    if not answer.citations:
        return "No sources.\n" if full else ""
    lines = []
    for c in answer.citations:
        date = (c.published_at or "undated")[:10]
        flag = "" if c.supported else " (not supported)"
        lines.append(f"[{c.marker}] {c.title} · {c.source or 'unknown source'}, {date}{flag}")
        if full:
            lines.append("    " + " ".join(c.text.split()))
    return "\n".join(lines) + "\n"


# --- terminal I/O -----------------------------------------------------------------------------


def terminal_io(history_path: Path) -> tuple[Read, Write]:
    """read/write for a terminal (prompt_toolkit, persistent history) or for piped stdin.

    On a terminal, output wraps at word boundaries (rag.wrapping); piped output is left as is.
    """

    def raw_write(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    wrap = WordWrap(raw_write, _terminal_width)
    write = wrap.write if sys.stdout.isatty() else raw_write
    if not sys.stdin.isatty():
        return _piped_read(write), write
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory
    from prompt_toolkit.key_binding import KeyBindings

    history_path.parent.mkdir(parents=True, exist_ok=True)
    bindings = KeyBindings()

    @bindings.add("escape", "enter")
    def _newline(event: object) -> None:
        event.current_buffer.insert_text("\n")  # type: ignore[attr-defined]

    session: PromptSession[str] = PromptSession(
        history=FileHistory(str(history_path)), key_bindings=bindings
    )

    def read(prompt: str) -> str:
        wrap.flush()  # a word held back for wrapping is shown before the prompt
        return session.prompt(prompt)

    return read, write


def _terminal_width() -> int:
    # The terminal's own size, read each time (it may be resized): an exported COLUMNS is
    # often stale, so it is only the fallback.
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns
    except (OSError, ValueError):
        return shutil.get_terminal_size().columns


def _piped_read(write: Write) -> Read:
    """read for piped stdin: echo prompt and line so the transcript reads like a session."""

    def read(prompt: str) -> str:
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        write(f"{prompt}{line.rstrip()}\n")
        return line.rstrip("\n")

    return read
