"""Which occasions notify whom, through which channel and when — on a scripted clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from notifications.domain.planning import Circumstances, Webhook, plan, plan_in
from notifications.domain.rules import DEFAULT_RULES, Occasion, mastery_changes, occasion_of
from notifications.domain.schedule import after_quiet_hours, backoff, next_digest
from notifications.domain.signing import signature, verify
from notifications.domain.templates import render, render_digest
from shared_events.events.evidence import EvidenceUsed, MasteryDecided, PolicyRef
from shared_events.events.notifications import NotificationRule, PreferencesSet, QuietHours
from shared_events.events.pathways import PathwayCompleted

NOW = datetime(2026, 11, 2, 22, 30, tzinfo=UTC)  # 22:30 UTC


def decided(mastered: bool) -> MasteryDecided:
    return MasteryDecided(
        learner_id="l1",
        competency_id="c1",
        policy=PolicyRef(policy_id="p", method="latest", version=1),
        evidence=(EvidenceUsed(evidence_id="e1", score=0.95, observed_at=NOW),),
        previous_level=None,
        new_level="mastered" if mastered else "familiar",
        previous_score=None,
        new_score=0.95 if mastered else 0.6,
        mastered=mastered,
    )


def test_mastery_is_an_occasion_only_when_it_changes():
    assert occasion_of(decided(True), "d1", NOW, was_mastered=False).trigger == "mastery_gained"
    assert occasion_of(decided(True), "d1", NOW, was_mastered=None).trigger == "mastery_gained"
    assert occasion_of(decided(True), "d1", NOW, was_mastered=True) is None
    assert occasion_of(decided(False), "d1", NOW, was_mastered=True).trigger == "mastery_lost"
    assert occasion_of(decided(False), "d1", NOW, was_mastered=False) is None


def test_mastery_changes_follow_each_learners_decisions_in_turn():
    def on(learner: str, competency: str, mastered: bool) -> MasteryDecided:
        return decided(mastered).model_copy(
            update={"learner_id": learner, "competency_id": competency}
        )

    decisions = [
        (on("l1", "c1", True), "e1", NOW),  # mastered before: no news
        (on("l1", "c1", False), "e2", NOW),  # lost
        (on("l2", "c1", True), "e3", NOW),  # never decided: gained
        (on("l1", "c1", True), "e4", NOW),  # gained again
        (on("l1", "c2", False), "e5", NOW),  # never decided, not mastered: no news
    ]
    changes = mastery_changes(decisions, {("l1", "c1"): True})
    assert [(o.cause_event_id, o.trigger) for o in changes] == [
        ("e2", "mastery_lost"),
        ("e3", "mastery_gained"),
        ("e4", "mastery_gained"),
    ]


def test_planning_in_a_district_uses_its_rules_statements_and_webhooks_and_spares_the_erased():
    known = Circumstances(
        erased=frozenset({"l9"}),
        audiences={"l1": AUDIENCES},
        rules={"d2": (NotificationRule(trigger="mastery_gained", audiences=("teachers",)),)},
        webhooks={"d2": [Webhook("wh", ("mastery_gained",))]},
        statements={("d1", "c1"): "Fractions"},
    )
    gained = occasion_of(decided(True), "e1", NOW)
    in_one = plan_in(known, "d1", gained, NOW)
    assert {q.recipient_id for q in in_one} == {"l1", "g1", "g2"}  # the default rules
    assert {q.facts["competency"] for q in in_one} == {"Fractions"}
    in_two = plan_in(known, "d2", gained, NOW)
    assert {(q.recipient_id, q.channel) for q in in_two} == {
        ("t1", "inbox"),
        ("t1", "email"),
        ("wh", "webhook"),
    }
    assert {q.facts["competency"] for q in in_two} == {"c1"}  # no statement there: its id
    unknown = replace(gained, learner_id="l5")  # never registered: their own inbox
    assert [(q.recipient_id, q.channel) for q in plan_in(known, "d1", unknown, NOW)] == [
        ("l5", "inbox")
    ]
    assert plan_in(known, "d1", replace(gained, learner_id="l9"), NOW) == []


def test_a_completed_goal_pathway_is_a_goal_achieved():
    done = PathwayCompleted(learner_id="l1", pathway_id="p", total_count=3, goal_id="g1")
    assert occasion_of(done, "x", NOW).trigger == "goal_achieved"
    plain = done.model_copy(update={"goal_id": None})
    assert occasion_of(plain, "x", NOW).trigger == "pathway_completed"


AUDIENCES = {"learner": ["l1"], "guardians": ["g1", "g2"], "teachers": ["t1"]}


def test_default_rules_reach_learner_and_guardians_on_mastery_and_teachers_on_interventions():
    gained = Occasion("mastery_gained", "l1", "cause-1", NOW, {"competency": "Fractions"})
    queued = plan(gained, DEFAULT_RULES, AUDIENCES, {}, [], NOW)
    assert sorted((q.recipient_id, q.channel) for q in queued) == [
        ("g1", "email"),
        ("g1", "inbox"),
        ("g2", "email"),
        ("g2", "inbox"),
        ("l1", "inbox"),
    ]
    assert len({q.notification_id for q in queued}) == 5
    assert plan(gained, DEFAULT_RULES, AUDIENCES, {}, [], NOW) == queued  # same ids again
    stuck = Occasion("intervention_recommended", "l1", "cause-2", NOW)
    assert {q.recipient_id for q in plan(stuck, DEFAULT_RULES, AUDIENCES, {}, [], NOW)} == {"t1"}


def test_a_district_rule_switches_an_occasion_off_or_widens_it():
    rules = (
        NotificationRule(trigger="mastery_gained", audiences=("learner",), enabled=False),
        NotificationRule(trigger="goal_at_risk", audiences=("learner", "guardians", "teachers")),
    )
    gained = Occasion("mastery_gained", "l1", "c", NOW)
    assert plan(gained, rules, AUDIENCES, {}, [], NOW) == []
    at_risk = Occasion("goal_at_risk", "l1", "c2", NOW)
    assert {q.recipient_id for q in plan(at_risk, rules, AUDIENCES, {}, [], NOW)} == {
        "l1",
        "g1",
        "g2",
        "t1",
    }


def preferences(**values) -> PreferencesSet:
    return PreferencesSet(person_id="g1", set_by="g1", **values)


def test_quiet_hours_hold_email_until_they_end_in_the_recipients_time_zone():
    quiet = QuietHours(start="21:00", end="07:00", timezone="America/New_York")
    # 22:30 UTC is 17:30 in New York: not quiet there.
    assert after_quiet_hours(NOW, quiet) is None
    late = datetime(2026, 11, 3, 3, 0, tzinfo=UTC)  # 22:00 in New York
    resume = after_quiet_hours(late, quiet)
    assert resume.isoformat() == "2026-11-03T07:00:00-05:00"
    prefs = {"g1": preferences(quiet_hours=quiet, language="es")}
    gained = Occasion("mastery_gained", "l1", "c", late)
    queued = {
        q.channel: q for q in plan(gained, DEFAULT_RULES, {"guardians": ["g1"]}, prefs, [], late)
    }
    assert queued["email"].deliver_after == resume and queued["email"].locale == "es"
    assert queued["inbox"].deliver_after is None  # the inbox is quiet by nature


def test_a_teacher_with_a_digest_gets_email_at_digest_time_but_interventions_at_once():
    prefs = {
        "t1": preferences(digest=True, digest_time="16:00").model_copy(update={"person_id": "t1"})
    }
    rules = (NotificationRule(trigger="goal_at_risk", audiences=("teachers",)), *DEFAULT_RULES)
    at_risk = Occasion("goal_at_risk", "l1", "c", NOW)
    [inbox, email] = plan(at_risk, rules, {"teachers": ["t1"]}, prefs, [], NOW)
    assert email.digest and email.deliver_after == datetime(2026, 11, 3, 16, 0, tzinfo=UTC)
    assert not inbox.digest
    stuck = Occasion("intervention_recommended", "l1", "c2", NOW)
    urgent = [
        q for q in plan(stuck, rules, {"teachers": ["t1"]}, prefs, [], NOW) if q.channel == "email"
    ]
    assert not urgent[0].digest and urgent[0].deliver_after is None
    assert next_digest(datetime(2026, 11, 3, 15, 0, tzinfo=UTC), "16:00").hour == 16


def test_channels_per_kind_and_district_webhooks():
    prefs = {"g1": preferences(channels={"mastery_gained": ("email",)})}
    hooks = [Webhook("wh1", ("mastery_gained",)), Webhook("wh2", ("goal_at_risk",))]
    gained = Occasion("mastery_gained", "l1", "c", NOW)
    queued = plan(gained, DEFAULT_RULES, {"guardians": ["g1"]}, prefs, hooks, NOW)
    assert [(q.recipient_id, q.channel, q.recipient_role) for q in queued] == [
        ("g1", "email", "guardian"),
        ("wh1", "webhook", "district"),
    ]


def test_messages_in_english_and_spanish():
    facts = {"competency": "Fractions", "level": "mastered", "score": "0.95"}
    english = render("mastery_gained", "en", facts, "Ada")
    spanish = render("mastery_gained", "es", facts, "Ada")
    assert english.subject == "Mastered: Fractions"
    assert english.text == "Ada mastered “Fractions” (level mastered, score 0.95)."
    assert spanish.text == "Ada ha dominado «Fractions» (nivel mastered, puntuación 0.95)."
    assert render("mastery_gained", "fr", facts, "Ada") == english  # unknown locale: English
    hostile = render("mastery_gained", "en", {**facts, "competency": "<b>x</b>"}, "Ada")
    assert "<b>" not in hostile.html and "&lt;b&gt;" in hostile.html
    digest = render_digest("es", [english, english])
    assert digest.subject == "Tu resumen diario (2)" and digest.text.count("- Mastered") == 2


def test_webhook_signatures_cover_timestamp_and_body():
    header = signature(b"secret", 1_700_000_000, b'{"a":1}')
    assert verify(b"secret", header, b'{"a":1}', now=1_700_000_100)
    assert not verify(b"secret", header, b'{"a":2}', now=1_700_000_100)
    assert not verify(b"other", header, b'{"a":1}', now=1_700_000_100)
    assert not verify(b"secret", header, b'{"a":1}', now=1_700_001_000)  # too old


def test_retries_back_off_exponentially_with_jitter_and_a_cap():
    assert [backoff(n, 1.0, 60.0, 1.0) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert backoff(10, 1.0, 60.0, 1.0) == 60.0
    assert backoff(2, 1.0, 60.0, 0.5) == 1.0
