"""Importing CASE 1.0 packages: real exports from the shared fixtures, and small made-up ones."""

import copy
import json
import uuid
from pathlib import Path

import jsonschema
import pytest

from pathways.domain.case import CaseRefused, Problem, changes_between, parse_package
from shared_events.events.pathways import Prerequisite

# Where the conftest's `shared_fixtures` points; only used to name the parametrized cases.
SAMPLES = Path(__file__).resolve().parents[4] / "shared" / "fixtures" / "case" / "samples"
SAMPLE_FILES = sorted(p.relative_to(SAMPLES).as_posix() for p in SAMPLES.rglob("*.json"))
OPENSALT = "docs/opensalt-framework-20c5134f-423d-4097-a971-3dd5152bf507.json"
EMPTY = "tests-data/EmptyExternalFramework.json"
TEST_DATA = [name for name in SAMPLE_FILES if name.startswith("tests-data/")]


def load(shared_fixtures: Path, name: str) -> dict:
    return json.loads((shared_fixtures / "case" / "samples" / name).read_text(encoding="utf-8"))


def schema_violations(shared_fixtures: Path, package: dict) -> set[str]:
    """Where the CASE schema says `package` is wrong, as `CFAssociations[15].sequenceNumber`
    paths; a oneOf failure counts at its deeper causes, like the importer's warnings."""
    schema_path = shared_fixtures / "case" / "schema" / "case-v1p0-cfpackage-schema.json"
    validator = jsonschema.Draft4Validator(json.loads(schema_path.read_text()))

    def leaves(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
        deeper = [e for e in error.context or () if len(e.absolute_path) > len(error.absolute_path)]
        return [leaf for e in deeper for leaf in leaves(e)] if deeper else [error]

    def location(error: jsonschema.ValidationError) -> str:
        return "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path
        ).lstrip(".")

    return {location(leaf) for error in validator.iter_errors(package) for leaf in leaves(error)}


def located(warnings: tuple[str, ...]) -> set[str]:
    return {warning.split(": ", 1)[0] for warning in warnings}


def by_code(framework) -> dict:
    return {c.code: c for c in framework.competencies}


# -- the shared fixtures ------------------------------------------------------------------------


def test_every_sample_the_readme_lists_is_found(shared_fixtures):
    found = sorted((shared_fixtures / "case" / "samples").rglob("*.json"))
    assert len(found) == 9  # README: 1 in docs/, 8 in tests-data/
    assert [p.relative_to(shared_fixtures / "case" / "samples").as_posix() for p in found] == (
        SAMPLE_FILES
    )


@pytest.mark.parametrize("name", SAMPLE_FILES, ids=[Path(n).name for n in SAMPLE_FILES])
def test_every_sample_imports_or_is_refused_with_a_reason(shared_fixtures, name):
    package = load(shared_fixtures, name)
    if name == EMPTY:
        with pytest.raises(CaseRefused) as refused:
            parse_package(package)
        assert refused.value.problems == (
            Problem("CFItems", "empty: a framework needs at least one item"),
        )
        return
    framework = parse_package(package)
    assert framework.framework_id == package["CFDocument"]["identifier"]
    assert framework.title == package["CFDocument"]["title"]
    assert sorted(c.competency_id for c in framework.competencies) == sorted(
        item["identifier"] for item in package["CFItems"]
    )
    assert len(framework.content_hash) == 64


def test_the_opensalt_export_warns_at_exactly_its_schema_violations(shared_fixtures):
    package = load(shared_fixtures, OPENSALT)
    violations = schema_violations(shared_fixtures, package)
    assert violations == {
        "CFAssociations[15].sequenceNumber",
        "CFAssociations[31].sequenceNumber",
        "CFDefinitions.CFItemTypes[0].description",
        "CFDefinitions.CFItemTypes[1].description",
        "CFDefinitions.CFItemTypes[2].description",
    }, "the README describes two string sequenceNumbers and null descriptions"

    framework = parse_package(package)

    # Plus one warning the schema cannot see: a `precedes` that points outside the package.
    outside = "CFAssociations[32].destinationNodeURI.identifier"
    assert located(framework.warnings) == violations | {outside}
    assert (
        "CFAssociations[15].sequenceNumber: a string ('1') where CASE wants an integer; read as 1"
        in framework.warnings
    )
    assert (
        "CFDefinitions.CFItemTypes[0].description: null where CASE wants a string; read as absent"
        in framework.warnings
    )


def test_the_opensalt_export_builds_its_hierarchy_and_prerequisites(shared_fixtures):
    framework = parse_package(load(shared_fixtures, OPENSALT))
    codes = by_code(framework)
    code_of = {c.competency_id: c.code for c in framework.competencies}

    assert [c.code for c in framework.competencies if c.parent_id is None] == [
        "CCSS.Math.Content.6.RP.A",  # sequenceNumber "1"
        "CCSS.Math.Content.7.RP.A",  # sequenceNumber "2"
    ]
    assert codes["CCSS.Math.Content.6.RP.A"].sequence == 1
    assert code_of[codes["CCSS.Math.Content.6.RP.A.3b"].parent_id] == "CCSS.Math.Content.6.RP.A.3"
    assert code_of[codes["CCSS.Math.Content.7.RP.A.2"].parent_id] == "CCSS.Math.Content.7.RP.A"
    assert codes["CCSS.Math.Content.6.RP.A.3b"].item_type == "Component"
    seen: set[str | None] = {None}
    for competency in framework.competencies:  # depth-first: a parent before its children
        assert competency.parent_id in seen
        seen.add(competency.competency_id)

    assert {(code_of[p.before], code_of[p.after]) for p in framework.prerequisites} == {
        ("CCSS.Math.Content.6.RP.A.1", "CCSS.Math.Content.6.RP.A.2"),
        ("CCSS.Math.Content.6.RP.A.3", "CCSS.Math.Content.7.RP.A.3"),
        # The export says 6.RP.A.2 precedes the outside original of 7.RP.A.1 (its exactMatchOf).
        ("CCSS.Math.Content.6.RP.A.2", "CCSS.Math.Content.7.RP.A.1"),
    }
    kinds = [a.association_type for a in framework.associations]
    assert (kinds.count("exactMatchOf"), kinds.count("exemplar"), kinds.count("isRelatedTo")) == (
        16,
        2,
        2,
    )
    assert "precedes" not in kinds and "isChildOf" not in kinds


@pytest.mark.parametrize("name", TEST_DATA, ids=[Path(n).name for n in TEST_DATA])
def test_the_opensalt_test_packages_are_valid_case_and_import_without_warnings(
    shared_fixtures, name
):
    package = load(shared_fixtures, name)
    assert schema_violations(shared_fixtures, package) == set()
    if name == EMPTY:  # valid CASE, but a framework with nothing to learn
        with pytest.raises(CaseRefused):
            parse_package(package)
    else:
        assert parse_package(package).warnings == ()


def test_siblings_follow_sequence_numbers_over_file_order(shared_fixtures):
    framework = parse_package(load(shared_fixtures, "tests-data/SequenceNumberFramework.json"))
    assert [(c.code, c.sequence) for c in framework.competencies] == [("SNT.2", 1), ("SNT.1", 2)]


def test_siblings_without_sequence_numbers_follow_their_codes_in_natural_order(shared_fixtures):
    framework = parse_package(load(shared_fixtures, "tests-data/Ordering.json"))
    level = [c.code for c in framework.competencies if c.code.startswith("H.A.MATH.GM.PF.2DFP.L1.")]
    assert level == [f"H.A.MATH.GM.PF.2DFP.L1.{n}" for n in range(1, 25)]


def test_items_without_codes_follow_their_statements_in_natural_order(shared_fixtures):
    framework = parse_package(load(shared_fixtures, "tests-data/SmartLevelFramework.json"))
    assert [c.statement for c in framework.competencies] == [
        "Item 1",
        *(f"Item 1.{n}" for n in range(1, 11)),
        "Item 2",
        "Item 2.1",
        "Item 2.2",
    ]


def test_text_beyond_ascii_and_markdown_arrive_unchanged(shared_fixtures):
    for name in ("tests-data/Utf8TestFramework.json", "tests-data/MarkdownFramework.json"):
        package = load(shared_fixtures, name)
        statements = {c.statement for c in parse_package(package).competencies}
        assert statements == {item["fullStatement"] for item in package["CFItems"]}


def test_the_order_of_an_export_does_not_change_the_framework(shared_fixtures):
    package = load(shared_fixtures, "tests-data/Ordering.json")
    shuffled = copy.deepcopy(package)
    shuffled["CFItems"].reverse()
    shuffled["CFAssociations"].reverse()
    first, second = parse_package(package), parse_package(shuffled)
    assert first.competencies == second.competencies
    assert first.content_hash == second.content_hash


# -- made-up packages ---------------------------------------------------------------------------

DOCUMENT = "d1000000-0000-4000-8000-000000000000"
STAMP = "2024-01-01T00:00:00+00:00"


def ident(code: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:test:{code}"))


def item(code: str, **changes) -> dict:
    return {
        "identifier": ident(code),
        "uri": f"https://case.test/{code}",
        "fullStatement": f"Statement {code}",
        "humanCodingScheme": code,
        "lastChangeDateTime": STAMP,
    } | changes


def node(identifier: str) -> dict:
    return {"title": "node", "identifier": identifier, "uri": f"https://case.test/{identifier}"}


def association(origin: str, kind: str, destination: str, **changes) -> dict:
    """`origin` and `destination` are item codes, or "DOC", or raw identifiers prefixed "id:"."""

    def resolve(end: str) -> str:
        return DOCUMENT if end == "DOC" else end[3:] if end.startswith("id:") else ident(end)

    identifier = str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:test:{origin}:{kind}:{destination}"))
    return {
        "identifier": identifier,
        "uri": f"https://case.test/{identifier}",
        "associationType": kind,
        "originNodeURI": node(resolve(origin)),
        "destinationNodeURI": node(resolve(destination)),
        "lastChangeDateTime": STAMP,
    } | changes


def package(items: list[dict], associations: list[dict]) -> dict:
    return {
        "CFDocument": {
            "identifier": DOCUMENT,
            "uri": f"https://case.test/{DOCUMENT}",
            "creator": "Test District",
            "title": "Test Framework",
            "lastChangeDateTime": STAMP,
        },
        "CFItems": items,
        "CFAssociations": associations,
    }


def chain() -> dict:
    """A under the document, B and C under A; A precedes B precedes C."""
    return package(
        [item("A"), item("B"), item("C")],
        [
            association("A", "isChildOf", "DOC"),
            association("B", "isChildOf", "A", sequenceNumber=1),
            association("C", "isChildOf", "A", sequenceNumber=2),
            association("A", "precedes", "B"),
            association("B", "precedes", "C"),
        ],
    )


def problems_of(raw: object) -> tuple[Problem, ...]:
    with pytest.raises(CaseRefused) as refused:
        parse_package(raw)
    return refused.value.problems


def test_a_valid_made_up_package_imports_cleanly():
    framework = parse_package(chain())
    assert framework.warnings == ()
    assert [(c.code, c.parent_id, c.sequence) for c in framework.competencies] == [
        ("A", None, None),
        ("B", ident("A"), 1),
        ("C", ident("A"), 2),
    ]
    assert set(framework.prerequisites) == {
        Prerequisite(before=ident("A"), after=ident("B")),
        Prerequisite(before=ident("B"), after=ident("C")),
    }
    assert list(framework.prerequisites) == sorted(
        framework.prerequisites, key=lambda p: (p.before, p.after)
    )


@pytest.mark.parametrize(
    "raw",
    [[], "CFDocument", {}, {"CFItems": []}, {"CFDocument": "x", "CFItems": []}],
    ids=["a list", "a string", "an empty object", "no CFDocument", "a CFDocument not an object"],
)
def test_what_is_not_a_cfpackage_is_refused(raw):
    assert problems_of(raw) == (Problem("CFDocument", "missing: not a CASE CFPackage"),)


def test_an_empty_framework_is_refused():
    assert problems_of(package([], [])) == (
        Problem("CFItems", "empty: a framework needs at least one item"),
    )
    missing = package([], [])
    del missing["CFItems"]
    assert problems_of(missing) == (
        Problem("CFItems", "missing: a framework needs at least one item"),
    )


def test_a_child_of_an_unknown_item_is_refused():
    raw = chain()
    raw["CFAssociations"].append(association("C", "isChildOf", "Z"))
    assert problems_of(raw) == (
        Problem(
            "CFAssociations[5].destinationNodeURI.identifier",
            "names neither an item here nor the CFDocument",
        ),
    )


def test_a_precedes_from_an_unknown_item_is_kept_but_not_acted_on():
    raw = chain()
    raw["CFAssociations"].append(association("Z", "precedes", "A"))
    framework = parse_package(raw)
    assert framework.warnings == (
        f"CFAssociations[5].originNodeURI.identifier: '{ident('Z')}' is outside this package; "
        "kept as an association, not a prerequisite",
    )
    assert len(framework.prerequisites) == 2
    assert [a.association_type for a in framework.associations] == ["precedes"]


def test_a_precedes_into_another_framework_reads_through_its_exact_match():
    outside = "id:aaaaaaaa-0000-4000-8000-000000000000"
    raw = chain()
    raw["CFAssociations"] += [
        association("C", "exactMatchOf", outside),
        association("A", "precedes", outside),
    ]
    framework = parse_package(raw)
    assert Prerequisite(before=ident("A"), after=ident("C")) in framework.prerequisites
    assert framework.warnings == (
        f"CFAssociations[6].destinationNodeURI.identifier: '{outside[3:]}' is outside this "
        "package; read as C, its exactMatchOf here",
    )


def test_associations_to_other_frameworks_are_kept():
    raw = chain()
    raw["CFAssociations"].append(association("A", "isRelatedTo", "id:somewhere-else"))
    framework = parse_package(raw)
    assert framework.warnings == ()
    assert [(a.origin, a.association_type, a.destination) for a in framework.associations] == [
        (ident("A"), "isRelatedTo", "somewhere-else")
    ]


def test_a_precedes_cycle_is_refused_and_named():
    raw = chain()
    raw["CFAssociations"].append(association("C", "precedes", "A"))
    assert problems_of(raw) == (
        Problem("CFAssociations[3]", "cycle: A -> B -> C -> A (each precedes the next)"),
    )


def test_a_cycle_is_named_by_identifier_where_an_item_has_no_code():
    raw = chain()
    del raw["CFItems"][2]["humanCodingScheme"]
    raw["CFAssociations"].append(association("C", "precedes", "A"))
    (problem,) = problems_of(raw)
    assert problem.rule == f"cycle: A -> B -> {ident('C')} -> A (each precedes the next)"


def test_an_item_that_precedes_itself_is_a_cycle():
    raw = chain()
    raw["CFAssociations"].append(association("B", "precedes", "B"))
    assert problems_of(raw) == (
        Problem("CFAssociations[5]", "cycle: B -> B (each precedes the next)"),
    )


def test_an_ischildof_cycle_is_refused_and_named():
    raw = package(
        [item("A"), item("B"), item("C")],
        [
            association("A", "isChildOf", "C"),
            association("B", "isChildOf", "A"),
            association("C", "isChildOf", "B"),
        ],
    )
    assert problems_of(raw) == (
        Problem("CFAssociations[0]", "cycle: A -> C -> B -> A (each isChildOf the next)"),
    )


def test_missing_identifiers_are_refused_naming_where():
    raw = chain()
    del raw["CFDocument"]["identifier"]
    raw["CFItems"].append(item("D", identifier=""))
    raw["CFAssociations"][4]["originNodeURI"].pop("identifier")
    assert problems_of(raw) == (
        Problem("CFDocument.identifier", "missing: a framework needs one"),
        Problem("CFItems[3].identifier", "blank: a competency needs one"),
        Problem(
            "CFAssociations[4].originNodeURI.identifier", "missing: an association end needs one"
        ),
    )


def test_duplicate_item_identifiers_are_refused():
    raw = chain()
    raw["CFItems"].append(item("B", fullStatement="Another B"))
    assert problems_of(raw) == (
        Problem("CFItems[3].identifier", f"duplicate: '{ident('B')}' is also CFItems[1]"),
    )


def test_an_item_without_a_statement_is_refused():
    raw = chain()
    del raw["CFItems"][1]["fullStatement"]
    assert problems_of(raw) == (
        Problem("CFItems[1].fullStatement", "missing: a competency needs a statement"),
    )


def test_every_problem_is_reported_together():
    raw = chain()
    raw["CFItems"][0]["fullStatement"] = None
    raw["CFAssociations"][3]["associationType"] = "preceeds"
    raw["CFAssociations"][4]["sequenceNumber"] = "first"
    assert problems_of(raw) == (
        Problem("CFItems[0].fullStatement", "missing: a competency needs a statement"),
        Problem(
            "CFAssociations[3].associationType",
            "unknown: 'preceeds' is not a CASE 1.0 association type",
        ),
        Problem(
            "CFAssociations[4].sequenceNumber", "a string ('first') where CASE wants an integer"
        ),
    )


def test_a_framework_id_that_cannot_be_a_subject_token_is_refused():
    raw = json.loads(json.dumps(chain()).replace(DOCUMENT, "district.framework"))
    assert problems_of(raw) == (
        Problem("CFDocument.identifier", "not usable as a subject token (A-Z a-z 0-9 _ -)"),
    )


def test_harmless_deviations_are_accepted_with_a_warning_naming_where():
    raw = chain()
    raw["CFAssociations"][1]["sequenceNumber"] = "1"
    raw["CFItems"][0]["notes"] = None
    raw["CFItems"][1]["educationalLevel"] = "06"  # open object: an extension, not a deviation
    raw["CFDocument"].pop("creator")
    raw["CFDefinitions"] = {"CFItemTypes": [], "CFColours": []}
    raw["exportedBy"] = "a tool"

    framework = parse_package(raw)

    assert framework.warnings == (
        "CFDefinitions.CFColours: a property CASE does not define here; ignored",
        "exportedBy: a property CASE does not define here; ignored",
        "CFDocument.creator: missing, though CASE requires it; not needed here",
        "CFItems[0].notes: null where CASE wants a string; read as absent",
        "CFAssociations[1].sequenceNumber: a string ('1') where CASE wants an integer; read as 1",
    )
    assert framework.competencies == parse_package(chain()).competencies


def test_an_item_under_two_parents_keeps_the_lowest_sequence_and_says_so():
    raw = package(
        [item("A"), item("B"), item("C")],
        [
            association("A", "isChildOf", "DOC", sequenceNumber=1),
            association("B", "isChildOf", "DOC", sequenceNumber=2),
            association("C", "isChildOf", "A", sequenceNumber=5),
            association("C", "isChildOf", "B", sequenceNumber=3),
        ],
    )
    framework = parse_package(raw)
    assert by_code(framework)["C"].parent_id == ident("B")
    assert framework.warnings == (
        "CFAssociations[2], CFAssociations[3]: C has 2 isChildOf associations; its parent is "
        "from CFAssociations[3] (lowest sequenceNumber, then first in file), the others are "
        "kept as associations only",
    )
    assert [(a.origin, a.association_type, a.destination) for a in framework.associations] == [
        (ident("C"), "isChildOf", ident("A"))
    ]


def test_an_item_with_no_parent_sits_at_the_top_level_with_a_warning():
    raw = chain()
    raw["CFItems"].append(item("D"))
    framework = parse_package(raw)
    assert by_code(framework)["D"].parent_id is None
    assert framework.warnings == ("CFItems[3]: no isChildOf association; top level assumed",)


# -- content hash and changes between versions -------------------------------------------------


def test_re_exporting_an_unchanged_framework_keeps_its_hash(shared_fixtures):
    package = load(shared_fixtures, OPENSALT)
    later = json.loads(json.dumps(package).replace("2017-0", "2024-0"))
    assert later != package
    assert parse_package(later).content_hash == parse_package(package).content_hash


def test_changing_a_statement_changes_the_hash():
    raw = chain()
    raw["CFItems"][1]["fullStatement"] = "Add within 20"
    assert parse_package(raw).content_hash != parse_package(chain()).content_hash


def test_an_identical_re_import_has_no_changes():
    framework = parse_package(chain())
    assert changes_between(1, framework.competencies, framework.prerequisites, framework) is None


def test_changes_name_added_removed_and_changed_items_and_prerequisites():
    old = parse_package(chain())
    raw = chain()
    raw["CFItems"][1]["fullStatement"] = "Add within 20"  # B changed
    del raw["CFItems"][2]  # C removed, with its edges
    del raw["CFAssociations"][2]
    del raw["CFAssociations"][3]
    raw["CFItems"].append(item("D"))  # D added, after A
    raw["CFAssociations"] += [
        association("D", "isChildOf", "DOC"),
        association("D", "precedes", "A"),
    ]
    new = parse_package(raw)

    changes = changes_between(3, old.competencies, old.prerequisites, new)

    assert changes is not None
    assert changes.from_version == 3
    assert changes.added == (ident("D"),)
    assert changes.removed == (ident("C"),)
    assert changes.changed == (ident("B"),)
    assert changes.prerequisites_added == (Prerequisite(before=ident("D"), after=ident("A")),)
    assert changes.prerequisites_removed == (Prerequisite(before=ident("B"), after=ident("C")),)


def test_moving_an_item_under_another_parent_is_a_change():
    old = parse_package(chain())
    raw = chain()
    raw["CFAssociations"][2] = association("C", "isChildOf", "B")
    changes = changes_between(1, old.competencies, old.prerequisites, parse_package(raw))
    assert changes is not None
    assert changes.changed == (ident("C"),)
    assert changes.added == changes.removed == ()
