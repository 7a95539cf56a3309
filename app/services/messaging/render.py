"""What a message says, made when it is sent: one renderer per ``kind``.

A renderer takes ``(session, message, config)`` and returns :class:`Rendered`, or :class:`Skip`
when the message has no reason to go any more (the appointment was cancelled or moved). It runs
inside ``force_locale(message.language)``, so ``gettext`` gives the recipient's language. Modules
that hold renderers register them with ``@renderer("kind")`` and are listed in ``RENDERER_MODULES``.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from app.models import OutboundMessage

Attachment = tuple[str, str, bytes]  # (file name, MIME type, content)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str  # the e-mail's plain text
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    short_text: str | None = None  # SMS (and the Zalo fallback); default: the subject
    template_data: dict[str, Any] = field(default_factory=dict)  # Zalo ZNS template parameters
    template: str | None = None  # which Zalo template (a key of ZALO_TEMPLATES)


@dataclass(frozen=True)
class Skip:
    reason: str  # one of app.models.messaging.SKIP_REASONS
    detail: str = ""


Renderer = Callable[[Session, OutboundMessage, Mapping], "Rendered | Skip"]
RENDERERS: dict[str, Renderer] = {}

# Modules whose import registers renderers (each kind once).
RENDERER_MODULES: list[str] = [
    "app.services.messaging.builtin_notices",
    "app.services.messaging.notice_renderers",
    "app.services.messaging.reminder_message",
    "app.services.account_mail",
    "app.services.invoice_mail",
    "app.services.messaging.queue_notice",
]


def renderer(kind: str) -> Callable[[Renderer], Renderer]:
    def register(func: Renderer) -> Renderer:
        if kind in RENDERERS and RENDERERS[kind] is not func:
            raise ValueError(f"two renderers for message kind {kind!r}")
        RENDERERS[kind] = func
        return func
    return register


# What a kind does after each try of one of its messages (sent, failed, skipped, or back on the
# queue for a retry), in the transaction that records the try: keep another table in step (an
# invoice's e-mail status), or take a secret out of the row once it is no longer needed.
AfterAttempt = Callable[[Session, OutboundMessage, Mapping], None]
AFTER_ATTEMPT: dict[str, AfterAttempt] = {}


def after_attempt(kind: str) -> Callable[[AfterAttempt], AfterAttempt]:
    def register(func: AfterAttempt) -> AfterAttempt:
        if kind in AFTER_ATTEMPT and AFTER_ATTEMPT[kind] is not func:
            raise ValueError(f"two after-attempt hooks for message kind {kind!r}")
        AFTER_ATTEMPT[kind] = func
        return func
    return register


def run_after_attempt(session: Session, message: OutboundMessage, config: Mapping) -> None:
    load_renderers()
    hook = AFTER_ATTEMPT.get(message.kind)
    if hook is not None:
        hook(session, message, config)


# What a kind loads for a whole batch of its messages before they are rendered one by one (the
# appointments of 50 reminders in one query, not 50): objects put in the session, which the
# renderer then finds there. It returns them: the session holds its objects weakly, so the caller
# keeps them for the batch.
Prefetch = Callable[[Session, list[OutboundMessage], Mapping], list[Any]]
PREFETCH: dict[str, Prefetch] = {}


def prefetcher(kind: str) -> Callable[[Prefetch], Prefetch]:
    def register(func: Prefetch) -> Prefetch:
        if kind in PREFETCH and PREFETCH[kind] is not func:
            raise ValueError(f"two prefetchers for message kind {kind!r}")
        PREFETCH[kind] = func
        return func
    return register


def prefetch(session: Session, messages: Sequence[OutboundMessage], config: Mapping) -> list[Any]:
    """What the kinds' prefetchers loaded for ``messages`` (keep it while rendering them)."""
    load_renderers()
    by_kind: dict[str, list[OutboundMessage]] = {}
    for message in messages:
        by_kind.setdefault(message.kind, []).append(message)
    loaded: list[Any] = []
    for kind, group in by_kind.items():
        func = PREFETCH.get(kind)
        if func is not None and len(group) > 1:
            loaded.extend(func(session, group, config))
    return loaded


def load_renderers() -> None:
    for name in RENDERER_MODULES:
        importlib.import_module(name)


def render(session: Session, message: OutboundMessage, config: Mapping) -> Rendered | Skip:
    from flask_babel import force_locale

    load_renderers()
    func = RENDERERS.get(message.kind)
    if func is None:
        raise LookupError(f"no renderer for message kind {message.kind!r}")
    with force_locale(message.language or "en"):
        return func(session, message, config)
