"""Messages per locale (English and Spanish): a subject and a body per trigger, plain text and
HTML. The facts come from the notification (competency, level, tier…); the learner's name is
opened at send time and never stored with the message."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

LOCALES = ("en", "es")

# (subject, body); {learner} is the learner's first name (learners read their own name too).
_TEXTS: dict[str, dict[str, tuple[str, str]]] = {
    "en": {
        "mastery_gained": (
            "Mastered: {competency}",
            "{learner} mastered “{competency}” (level {level}, score {score}).",
        ),
        "mastery_lost": (
            "Needs another look: {competency}",
            "{learner} no longer shows mastery of “{competency}” (level {level}). "
            "The latest evidence changed the picture.",
        ),
        "intervention_recommended": (
            "Support recommended: {competency}",
            "{learner} may need support on “{competency}” (tier {tier}): {detail}",
        ),
        "goal_at_risk": (
            "A goal is behind its pace",
            "{learner} is behind the pace of a goal: {actual} done where {expected} "
            "was expected by now.",
        ),
        "goal_achieved": (
            "Goal achieved",
            "{learner} reached a goal: all {total} competencies of its pathway are done.",
        ),
        "pathway_completed": (
            "Pathway completed",
            "{learner} completed a pathway of {total} competencies.",
        ),
        "digest": ("Your daily summary ({count})", "Today's updates:"),
    },
    "es": {
        "mastery_gained": (
            "Dominado: {competency}",
            "{learner} ha dominado «{competency}» (nivel {level}, puntuación {score}).",
        ),
        "mastery_lost": (
            "Conviene repasar: {competency}",
            "{learner} ya no muestra dominio de «{competency}» (nivel {level}). "
            "La evidencia más reciente cambió la situación.",
        ),
        "intervention_recommended": (
            "Apoyo recomendado: {competency}",
            "{learner} podría necesitar apoyo en «{competency}» (nivel {tier}): {detail}",
        ),
        "goal_at_risk": (
            "Una meta va retrasada",
            "{learner} va por detrás del ritmo de una meta: {actual} completado cuando se "
            "esperaba {expected}.",
        ),
        "goal_achieved": (
            "Meta alcanzada",
            "{learner} alcanzó una meta: las {total} competencias de su trayecto están completas.",
        ),
        "pathway_completed": (
            "Trayecto completado",
            "{learner} completó un trayecto de {total} competencias.",
        ),
        "digest": ("Tu resumen diario ({count})", "Novedades de hoy:"),
    },
}


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    html: str


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def locale_of(language: str | None) -> str:
    return language if language in LOCALES else "en"


def render(template: str, locale: str, facts: Mapping[str, str], learner: str) -> Message:
    """The message for one notification about `learner` (a first name)."""
    locale = locale_of(locale)
    subject, body = _TEXTS[locale][template]
    values = _Blank(facts, learner=learner)
    text_subject, text_body = subject.format_map(values), body.format_map(values)
    escaped = _Blank({k: html.escape(v) for k, v in values.items()})
    html_body = f"<p>{body.format_map(escaped)}</p>"
    return Message(text_subject, text_body, html_body)


def render_digest(locale: str, items: Sequence[Message]) -> Message:
    locale = locale_of(locale)
    subject, intro = _TEXTS[locale]["digest"]
    lines = "\n".join(f"- {m.subject}: {m.text}" for m in items)
    listed = "".join(f"<li><strong>{html.escape(m.subject)}</strong>: {m.html}</li>" for m in items)
    return Message(
        subject.format(count=len(items)),
        f"{intro}\n{lines}",
        f"<p>{html.escape(intro)}</p><ul>{listed}</ul>",
    )
