"""The IMS Caliper 1.1/1.2 vocabulary, as data the Caliper parser validates against.

Written from the facts of the Caliper Analytics 1.1 and 1.2 information models: which `@context`
values, profiles and actions exist; for every Event type, the actions it allows and the entity
types each of its properties may hold; for every Entity type, its parent types and the
properties it adds. One table serves both versions: 1.2 is a superset of 1.1 (it folded 1.1's
profile extensions into the base context and added a few types, such as `SystemIdentifier` and
`LtiLink`).

A property's range names types; every subtype of a named type is allowed too (`Agent` admits
`Person`, `SoftwareApplication`, `Organization`, `CourseSection`, …). Wherever an entity is
expected, a bare string that is an IRI stands for a reference to it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from typing import Literal

Kind = Literal[
    "string",
    "integer",
    "number",
    "boolean",
    "datetime",
    "duration",
    "iri",
    "uuid",
    "map",
    "enum",
    "entity",
]


@dataclass(frozen=True)
class Prop:
    """What one property may hold: a kind of value, one or a list of them, and whether it must
    be given. `types` is the range of an entity property; `values` the terms of an enumeration."""

    kind: Kind
    many: bool = False
    required: bool = False
    types: tuple[str, ...] = ()
    values: frozenset[str] = frozenset()


@dataclass(frozen=True)
class EntityType:
    """An Entity type (or one of the two id-less helper types): the types it specialises and the
    properties it adds to theirs (a redefined property narrows the inherited one)."""

    parents: tuple[str, ...]
    properties: dict[str, Prop]
    is_entity: bool = True


@dataclass(frozen=True)
class EventType:
    """An Event type: the actions it allows (None: any Caliper action), the narrower ranges it
    gives the base Event's entity properties, and which optional ones it makes required."""

    actions: frozenset[str] | None
    ranges: dict[str, tuple[str, ...]]
    required: frozenset[str] = frozenset()


STRING = Prop("string")
INTEGER = Prop("integer")
NUMBER = Prop("number")
BOOLEAN = Prop("boolean")
DATETIME = Prop("datetime")
DURATION = Prop("duration")
IRI = Prop("iri")
MAP = Prop("map")
STRINGS = Prop("string", many=True)


def one(*types: str) -> Prop:
    """A property holding one entity of the given types (or an IRI reference to it)."""
    return Prop("entity", types=types)


def many(*types: str) -> Prop:
    """A property holding a list of entities of the given types (or IRI references)."""
    return Prop("entity", many=True, types=types)


def terms(values: frozenset[str], *, many: bool = False) -> Prop:
    """A property holding one term (or a list of terms) of an enumeration."""
    return Prop("enum", many=many, values=values)


def required(prop: Prop) -> Prop:
    """The same property, but it must be present and not null."""
    return replace(prop, required=True)


CALIPER_VOCABULARY = "http://purl.imsglobal.org/caliper/"
V1P1 = "http://purl.imsglobal.org/ctx/caliper/v1p1"
V1P2 = "http://purl.imsglobal.org/ctx/caliper/v1p2"

# Caliper 1.1 published its newer profiles as extension contexts next to the base context. 1.2
# folded them into its base context; the 1.2 profile extensions published since (Library,
# Notification) add event types these tables do not model, so their contexts are not listed.
CONTEXTS: dict[str, frozenset[str]] = {
    V1P1: frozenset(
        {V1P1}
        | {
            f"{V1P1}/{profile}-extension"
            for profile in (
                "FeedbackProfile",
                "ResourceManagementProfile",
                "SearchProfile",
                "SurveyProfile",
                "ToolLaunchProfile",
                "ToolUseProfile",
            )
        }
    ),
    V1P2: frozenset({V1P2}),
}

PROFILES = frozenset(
    {
        "AnnotationProfile",
        "AssessmentProfile",
        "AssignableProfile",
        "FeedbackProfile",
        "ForumProfile",
        "GeneralProfile",
        "GradingProfile",
        "MediaProfile",
        "ReadingProfile",
        "ResourceManagementProfile",
        "SearchProfile",
        "SessionProfile",
        "SurveyProfile",
        "ToolLaunchProfile",
        "ToolUseProfile",
    }
)

MEDIA_ACTIONS = frozenset(
    {
        "Started",
        "Ended",
        "Paused",
        "Resumed",
        "Restarted",
        "ForwardedTo",
        "JumpedTo",
        "ChangedResolution",
        "ChangedSize",
        "ChangedSpeed",
        "ChangedVolume",
        "EnabledClosedCaptioning",
        "DisabledClosedCaptioning",
        "EnteredFullScreen",
        "ExitedFullScreen",
        "Muted",
        "Unmuted",
        "OpenedPopout",
        "ClosedPopout",
    }
)

RESOURCE_MANAGEMENT_ACTIONS = frozenset(
    {
        "Archived",
        "Copied",
        "Created",
        "Deleted",
        "Described",
        "Downloaded",
        "Modified",
        "Printed",
        "Published",
        "Restored",
        "Retrieved",
        "Saved",
        "Unpublished",
        "Uploaded",
    }
)

ACTIONS = (
    MEDIA_ACTIONS
    | RESOURCE_MANAGEMENT_ACTIONS
    | frozenset(
        {
            "Abandoned",
            "Accepted",
            "Activated",
            "Added",
            "Attached",
            "Bookmarked",
            "Classified",
            "Commented",
            "Completed",
            "Deactivated",
            "Declined",
            "Disliked",
            "Graded",
            "Hid",
            "Highlighted",
            "Identified",
            "Launched",
            "Liked",
            "Linked",
            "LoggedIn",
            "LoggedOut",
            "MarkedAsRead",
            "MarkedAsUnread",
            "NavigatedTo",
            "OptedIn",
            "OptedOut",
            "Posted",
            "Questioned",
            "Ranked",
            "Recommended",
            "Removed",
            "Reset",
            "Returned",
            "Reviewed",
            "Rewound",
            "Searched",
            "Sent",
            "Shared",
            "Showed",
            "Skipped",
            "Submitted",
            "Subscribed",
            "Tagged",
            "TimedOut",
            "Unsubscribed",
            "Used",
            "Viewed",
        }
    )
)

METRICS = frozenset(
    {
        "AssessmentsPassed",
        "AssessmentsSubmitted",
        "MinutesOnTask",
        "SkillsMastered",
        "StandardsMastered",
        "UnitsCompleted",
        "UnitsPassed",
        "WordsRead",
    }
)

# The LIS context roles, each alone or with one of its sub-roles (`Instructor#Grader`).
_SUB_ROLES: dict[str, tuple[str, ...]] = {
    "Administrator": (
        "Administrator",
        "Developer",
        "ExternalDeveloper",
        "ExternalSupport",
        "ExternalSystemAdministrator",
        "Support",
        "SystemAdministrator",
    ),
    "ContentDeveloper": (
        "ContentDeveloper",
        "ContentExpert",
        "ExternalContentExpert",
        "Librarian",
    ),
    "Instructor": (
        "ExternalInstructor",
        "Grader",
        "GuestInstructor",
        "Instructor",
        "Lecturer",
        "PrimaryInstructor",
        "SecondaryInstructor",
        "TeachingAssistant",
        "TeachingAssistantGroup",
        "TeachingAssistantOffering",
        "TeachingAssistantSection",
        "TeachingAssistantTemplate",
    ),
    "Learner": ("ExternalLearner", "GuestLearner", "Learner", "NonCreditLearner"),
    "Manager": ("AreaManager", "CourseCoordinator", "ExternalObserver", "Manager", "Observer"),
    "Member": ("Member",),
    "Mentor": (
        "Advisor",
        "ExternalAdvisor",
        "ExternalAuditor",
        "ExternalLearningFacilitator",
        "ExternalMentor",
        "ExternalReviewer",
        "ExternalTutor",
        "LearningFacilitator",
        "Mentor",
        "Reviewer",
        "Tutor",
    ),
    "Officer": ("Chair", "Secretary", "Treasurer", "Vice-Chair"),
}
ROLES = frozenset(_SUB_ROLES) | frozenset(
    f"{role}#{sub}" for role, subs in _SUB_ROLES.items() for sub in subs
)

STATUSES = frozenset({"Active", "Inactive"})

IDENTIFIER_TYPES = frozenset(
    {
        "AccountUserName",
        "CaseItemUri",
        "EmailAddress",
        "LisSourcedId",
        "LtiContextId",
        "LtiDeploymentId",
        "LtiPlatformId",
        "LtiToolId",
        "LtiUserId",
        "OneRosterSourcedId",
        "Other",
        "SisSourcedId",
        "SystemId",
    }
)

LTI_MESSAGE_TYPES = frozenset(
    {"LtiResourceLinkRequest", "LtiDeepLinkingRequest", "LtiDeepLinkingResponse"}
)

_TIMED = {"startedAtTime": DATETIME, "endedAtTime": DATETIME, "duration": DURATION}
_SCALE_ITEMS = {"scalePoints": INTEGER, "itemLabels": STRINGS, "itemValues": STRINGS}

ENTITY_TYPES: dict[str, EntityType] = {
    "Entity": EntityType(
        (),
        {
            "id": required(IRI),
            "name": STRING,
            "description": STRING,
            "dateCreated": DATETIME,
            "dateModified": DATETIME,
            "otherIdentifiers": many("SystemIdentifier"),
            "extensions": MAP,
        },
    ),
    # Two helper types that are not Entities and carry no id.
    "SystemIdentifier": EntityType(
        (),
        {
            "identifier": required(STRING),
            "identifierType": required(terms(IDENTIFIER_TYPES)),
            "source": one("SoftwareApplication"),
            "extensions": MAP,
        },
        is_entity=False,
    ),
    "TextPositionSelector": EntityType(
        (), {"start": required(INTEGER), "end": required(INTEGER)}, is_entity=False
    ),
    # Agents
    "Agent": EntityType(("Entity",), {}),
    "Person": EntityType(("Agent",), {}),
    "SoftwareApplication": EntityType(
        ("Agent",), {"host": STRING, "ipAddress": STRING, "userAgent": STRING, "version": STRING}
    ),
    # The model types `members` as Agent, yet the 1.2 error fixtures count a SoftwareApplication
    # among a Group's members as wrong: the conformance suite admits only people.
    "Organization": EntityType(
        ("Agent",), {"members": many("Person"), "subOrganizationOf": one("Organization")}
    ),
    "CourseOffering": EntityType(
        ("Organization",), {"courseNumber": STRING, "academicSession": STRING}
    ),
    "CourseSection": EntityType(("CourseOffering",), {"category": STRING}),
    "Group": EntityType(("Organization",), {}),
    "Membership": EntityType(
        ("Entity",),
        {
            "organization": one("Organization"),
            "member": one("Person"),
            "roles": terms(ROLES, many=True),
            "status": terms(STATUSES),
        },
    ),
    # Digital resources
    "DigitalResource": EntityType(
        ("Entity",),
        {
            "storageName": STRING,
            "mediaType": STRING,
            "version": STRING,
            "creators": many("Agent"),
            "keywords": STRINGS,
            "learningObjectives": many("LearningObjective"),
            "isPartOf": one("Entity"),
            "datePublished": DATETIME,
        },
    ),
    "Collection": EntityType(("Entity",), {"items": many("Entity")}),
    "DigitalResourceCollection": EntityType(
        ("DigitalResource", "Collection"), {"items": many("DigitalResource")}
    ),
    "LearningObjective": EntityType(("Entity",), {}),
    "Document": EntityType(("DigitalResource",), {}),
    "Chapter": EntityType(("DigitalResource",), {}),
    "Page": EntityType(("DigitalResource",), {}),
    "WebPage": EntityType(("DigitalResource",), {}),
    "Frame": EntityType(("DigitalResource",), {"index": INTEGER}),
    "Link": EntityType(("Entity",), {}),
    "LtiLink": EntityType(("DigitalResource",), {"messageType": terms(LTI_MESSAGE_TYPES)}),
    "MediaObject": EntityType(("DigitalResource",), {"duration": DURATION}),
    "AudioObject": EntityType(
        ("MediaObject",),
        {"muted": BOOLEAN, "volumeLevel": STRING, "volumeMin": STRING, "volumeMax": STRING},
    ),
    "ImageObject": EntityType(("MediaObject",), {}),
    "VideoObject": EntityType(("MediaObject",), {}),
    "MediaLocation": EntityType(("DigitalResource",), {"currentTime": DURATION}),
    # Assignments, assessments and their outcomes
    "AssignableDigitalResource": EntityType(
        ("DigitalResource",),
        {
            "dateToActivate": DATETIME,
            "dateToShow": DATETIME,
            "dateToStartOn": DATETIME,
            "dateToSubmit": DATETIME,
            "maxAttempts": INTEGER,
            "maxSubmits": INTEGER,
            "maxScore": NUMBER,
        },
    ),
    "Assessment": EntityType(
        ("AssignableDigitalResource", "DigitalResourceCollection"),
        {"items": many("AssessmentItem")},
    ),
    "AssessmentItem": EntityType(("AssignableDigitalResource",), {"isTimeDependent": BOOLEAN}),
    "Attempt": EntityType(
        ("Entity",),
        {
            "assignee": one("Person"),
            "assignable": one("DigitalResource"),
            "isPartOf": one("Attempt"),
            "count": INTEGER,
            **_TIMED,
        },
    ),
    "Response": EntityType(("Entity",), {"attempt": one("Attempt"), **_TIMED}),
    "DateTimeResponse": EntityType(("Response",), {"dateTimeSelected": DATETIME}),
    "FillinBlankResponse": EntityType(("Response",), {"values": STRINGS}),
    "MultipleChoiceResponse": EntityType(("Response",), {"value": STRING}),
    "MultipleResponseResponse": EntityType(("Response",), {"values": STRINGS}),
    "MultiselectResponse": EntityType(("Response",), {"selections": STRINGS}),
    "OpenEndedResponse": EntityType(("Response",), {"value": STRING}),
    "RatingScaleResponse": EntityType(("Response",), {"selections": STRINGS}),
    "SelectTextResponse": EntityType(("Response",), {"values": STRINGS}),
    "TrueFalseResponse": EntityType(("Response",), {"value": STRING}),
    "Score": EntityType(
        ("Entity",),
        {
            "attempt": one("Attempt"),
            "maxScore": NUMBER,
            "scoreGiven": NUMBER,
            "scoredBy": one("Agent"),
            "comment": STRING,
        },
    ),
    "Result": EntityType(
        ("Entity",),
        {
            "attempt": one("Attempt"),
            "maxResultScore": NUMBER,
            "resultScore": NUMBER,
            "scoredBy": one("Agent"),
            "comment": STRING,
        },
    ),
    # Annotations
    "Annotation": EntityType(
        ("Entity",), {"annotator": one("Person"), "annotated": one("DigitalResource")}
    ),
    "BookmarkAnnotation": EntityType(("Annotation",), {"bookmarkNotes": STRING}),
    "HighlightAnnotation": EntityType(
        ("Annotation",), {"selection": one("TextPositionSelector"), "selectionText": STRING}
    ),
    "SharedAnnotation": EntityType(("Annotation",), {"withAgents": many("Agent")}),
    "TagAnnotation": EntityType(("Annotation",), {"tags": STRINGS}),
    # Forums
    "Forum": EntityType(("DigitalResourceCollection",), {"items": many("Thread")}),
    "Thread": EntityType(("DigitalResourceCollection",), {"items": many("Message")}),
    "Message": EntityType(
        ("DigitalResource",),
        {"body": STRING, "attachments": many("DigitalResource"), "replyTo": one("Message")},
    ),
    # Feedback
    "Comment": EntityType(
        ("Entity",), {"commenter": one("Person"), "commentedOn": one("Entity"), "value": STRING}
    ),
    "Rating": EntityType(
        ("Entity",),
        {
            "rater": one("Person"),
            "rated": one("Entity"),
            "question": one("Question"),
            "selections": STRINGS,
            "ratingComment": one("Comment"),
        },
    ),
    "Scale": EntityType(("Entity",), {}),
    "LikertScale": EntityType(("Scale",), _SCALE_ITEMS),
    "MultiselectScale": EntityType(
        ("Scale",),
        {
            **_SCALE_ITEMS,
            "isOrderedSelection": BOOLEAN,
            # The model text says string, but the 1.2 fixtures agree on an integer: the valid
            # one sends 5 and the error set counts "5" as wrong.
            "minSelections": INTEGER,
            "maxSelections": INTEGER,
        },
    ),
    "NumericScale": EntityType(
        ("Scale",),
        {
            "minLabel": STRING,
            "maxLabel": STRING,
            "minValue": NUMBER,
            "maxValue": NUMBER,
            "step": NUMBER,
        },
    ),
    # Surveys
    "Question": EntityType(("DigitalResource",), {"questionPosed": STRING}),
    "DateTimeQuestion": EntityType(
        ("Question",),
        {
            "minDateTime": DATETIME,
            "maxDateTime": DATETIME,
            "minLabel": STRING,
            "maxLabel": STRING,
        },
    ),
    "MultiselectQuestion": EntityType(
        ("Question",), {"itemLabels": STRINGS, "itemValues": STRINGS, "points": INTEGER}
    ),
    "OpenEndedQuestion": EntityType(("Question",), {}),
    "RatingScaleQuestion": EntityType(("Question",), {"scale": one("Scale")}),
    "QuestionnaireItem": EntityType(
        ("DigitalResource",),
        {"question": one("Question"), "categories": STRINGS, "weight": NUMBER},
    ),
    "Questionnaire": EntityType(
        ("DigitalResourceCollection",), {"items": many("QuestionnaireItem")}
    ),
    "Survey": EntityType(("Collection",), {"items": many("Questionnaire")}),
    "SurveyInvitation": EntityType(
        ("DigitalResource",),
        {
            "rater": one("Person"),
            "survey": one("Survey"),
            "sentCount": INTEGER,
            "dateSent": DATETIME,
        },
    ),
    # Search, sessions, tool use
    "Query": EntityType(
        ("Entity",),
        {"creator": one("Person"), "searchTarget": one("Entity"), "searchTerms": STRING},
    ),
    "SearchResponse": EntityType(
        ("Entity",),
        {
            "searchProvider": one("SoftwareApplication"),
            "searchTarget": one("Entity"),
            "query": one("Query"),
            "searchResultsItemCount": INTEGER,
            "searchResults": many("Entity"),
        },
    ),
    "Session": EntityType(
        ("Entity",), {"user": one("Person"), "client": one("SoftwareApplication"), **_TIMED}
    ),
    "LtiSession": EntityType(("Session",), {"messageParameters": MAP}),
    "AggregateMeasure": EntityType(
        ("Entity",),
        {
            "metric": required(terms(METRICS)),
            "metricValue": required(NUMBER),
            "maxMetricValue": NUMBER,
            "startedAtTime": DATETIME,
            "endedAtTime": DATETIME,
        },
    ),
    "AggregateMeasureCollection": EntityType(("Collection",), {"items": many("AggregateMeasure")}),
}

# The base Event. The entity ranges here are the widest; each Event type narrows them.
EVENT_PROPERTIES: dict[str, Prop] = {
    "id": required(Prop("uuid")),
    "profile": terms(PROFILES),
    "actor": required(one("Agent")),
    "action": required(terms(ACTIONS)),
    "object": required(one("Entity")),
    "eventTime": required(DATETIME),
    "edApp": one("SoftwareApplication"),
    "generated": one("Entity"),
    "target": one("Entity"),
    "referrer": one("Entity"),
    "group": one("Organization"),
    "membership": one("Membership"),
    "session": one("Session"),
    "federatedSession": one("LtiSession"),
    "extensions": MAP,
}

_RESOURCE_OR_APP = ("DigitalResource", "SoftwareApplication")

EVENT_TYPES: dict[str, EventType] = {
    "Event": EventType(None, {}),
    "AnnotationEvent": EventType(
        frozenset({"Bookmarked", "Highlighted", "Shared", "Tagged"}),
        {
            "actor": ("Person",),
            "object": ("DigitalResource",),
            "target": ("Frame",),
            "generated": ("Annotation",),
        },
    ),
    "AssessmentEvent": EventType(
        frozenset({"Started", "Paused", "Resumed", "Restarted", "Reset", "Submitted"}),
        {"actor": ("Person",), "object": ("Assessment",), "generated": ("Attempt",)},
    ),
    "AssessmentItemEvent": EventType(
        frozenset({"Started", "Skipped", "Completed"}),
        {
            "actor": ("Person",),
            "object": ("AssessmentItem",),
            # Started generates the item's Attempt, Completed a Response.
            "generated": ("Attempt", "Response"),
            "referrer": ("AssessmentItem",),
        },
    ),
    "AssignableEvent": EventType(
        frozenset({"Activated", "Deactivated", "Started", "Completed", "Submitted", "Reviewed"}),
        {
            "actor": ("Person",),
            "object": ("AssignableDigitalResource",),
            "target": ("Frame",),
            "generated": ("Attempt",),
        },
    ),
    "FeedbackEvent": EventType(
        frozenset({"Commented", "Ranked"}),
        {"actor": ("Person",), "target": ("Frame",), "generated": ("Comment", "Rating")},
    ),
    "ForumEvent": EventType(
        frozenset({"Subscribed", "Unsubscribed"}), {"actor": ("Person",), "object": ("Forum",)}
    ),
    "GradeEvent": EventType(
        frozenset({"Graded"}), {"object": ("Attempt",), "generated": ("Score",)}
    ),
    "MediaEvent": EventType(
        MEDIA_ACTIONS,
        {"actor": ("Person",), "object": ("MediaObject",), "target": ("MediaLocation",)},
    ),
    "MessageEvent": EventType(
        frozenset({"MarkedAsRead", "MarkedAsUnread", "Posted"}),
        {"actor": ("Person",), "object": ("Message",)},
    ),
    "NavigationEvent": EventType(
        frozenset({"NavigatedTo"}),
        {
            "actor": ("Person",),
            "object": _RESOURCE_OR_APP,
            "target": ("DigitalResource",),
            "referrer": _RESOURCE_OR_APP,
        },
    ),
    "QuestionnaireEvent": EventType(
        frozenset({"Started", "Submitted"}),
        {"actor": ("Person",), "object": ("Questionnaire",)},
    ),
    "QuestionnaireItemEvent": EventType(
        frozenset({"Started", "Skipped", "Completed"}),
        {"actor": ("Person",), "object": ("QuestionnaireItem",), "generated": ("Response",)},
    ),
    "ResourceManagementEvent": EventType(
        RESOURCE_MANAGEMENT_ACTIONS,
        {
            "actor": ("Person",),
            "object": ("DigitalResource",),
            "generated": ("DigitalResource",),
        },
    ),
    "SearchEvent": EventType(
        frozenset({"Searched"}), {"actor": ("Person",), "generated": ("SearchResponse",)}
    ),
    "SessionEvent": EventType(
        frozenset({"LoggedIn", "LoggedOut", "TimedOut"}),
        {
            "actor": ("Person", "SoftwareApplication"),
            "object": ("SoftwareApplication", "Session"),
            "target": ("DigitalResource",),
            "referrer": _RESOURCE_OR_APP,
        },
    ),
    "SurveyEvent": EventType(
        frozenset({"OptedIn", "OptedOut"}), {"actor": ("Person",), "object": ("Survey",)}
    ),
    "SurveyInvitationEvent": EventType(
        frozenset({"Accepted", "Declined", "Sent"}),
        {"actor": ("Person",), "object": ("SurveyInvitation",)},
    ),
    "ThreadEvent": EventType(
        frozenset({"MarkedAsRead", "MarkedAsUnread"}),
        {"actor": ("Person",), "object": ("Thread",)},
    ),
    "ToolLaunchEvent": EventType(
        frozenset({"Launched", "Returned"}),
        {
            "actor": ("Person",),
            "object": ("SoftwareApplication",),
            "generated": ("DigitalResource",),
            "target": ("Link", "LtiLink"),
            "referrer": _RESOURCE_OR_APP,
        },
        required=frozenset({"federatedSession"}),
    ),
    "ToolUseEvent": EventType(
        frozenset({"Used"}),
        {
            "actor": ("Person",),
            "object": ("SoftwareApplication",),
            "target": ("SoftwareApplication",),
            "generated": ("AggregateMeasureCollection",),
        },
    ),
    "ViewEvent": EventType(
        frozenset({"Viewed"}),
        {"actor": ("Person",), "object": ("DigitalResource",), "target": ("Frame",)},
    ),
}

# Where the action decides a range more narrowly than the Event type does.
ACTION_RANGES: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {
    ("FeedbackEvent", "Commented"): {"generated": ("Comment",)},
    ("FeedbackEvent", "Ranked"): {"generated": ("Rating",)},
    ("SessionEvent", "LoggedIn"): {"actor": ("Person",), "object": ("SoftwareApplication",)},
    ("SessionEvent", "LoggedOut"): {"actor": ("Person",), "object": ("SoftwareApplication",)},
    ("SessionEvent", "TimedOut"): {"actor": ("SoftwareApplication",), "object": ("Session",)},
}


@cache
def ancestors(type_name: str) -> frozenset[str]:
    """The type itself and every type it specialises."""
    found = {type_name}
    for parent in ENTITY_TYPES[type_name].parents:
        found |= ancestors(parent)
    return frozenset(found)


@cache
def entity_properties(type_name: str) -> dict[str, Prop]:
    """Every property of an entity type: its own, then those it inherits (own ones win)."""
    merged: dict[str, Prop] = {}
    for parent in reversed(ENTITY_TYPES[type_name].parents):
        merged |= entity_properties(parent)
    return merged | ENTITY_TYPES[type_name].properties


def event_properties(type_name: str, action: str) -> dict[str, Prop]:
    """Every property of an Event of this type and action, with its ranges narrowed."""
    event_type = EVENT_TYPES[type_name]
    ranges = event_type.ranges | ACTION_RANGES.get((type_name, action), {})
    narrowed = {name: replace(EVENT_PROPERTIES[name], types=t) for name, t in ranges.items()}
    made_required = {
        name: required(narrowed.get(name, EVENT_PROPERTIES[name])) for name in event_type.required
    }
    return EVENT_PROPERTIES | narrowed | made_required
