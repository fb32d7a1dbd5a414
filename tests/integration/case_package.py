"""A small CASE 1.0 package written for the tests (not one of the shared fixtures): a
"Fractions" framework where M.1 precedes M.2."""

from __future__ import annotations

DOC = "a1b2c3d4-0000-4000-8000-000000000000"
FIRST = "a1b2c3d4-0000-4000-8000-000000000001"
SECOND = "a1b2c3d4-0000-4000-8000-000000000002"


def node(identifier: str) -> dict[str, str]:
    return {"title": identifier, "identifier": identifier, "uri": f"https://case.test/{identifier}"}


def package() -> dict:
    """A two-competency CASE package: M.1 precedes M.2."""
    items = [
        {"identifier": FIRST, "uri": f"https://case.test/{FIRST}", "humanCodingScheme": "M.1",
         "fullStatement": "Compare fractions", "lastChangeDateTime": "2026-01-01T00:00:00+00:00"},
        {"identifier": SECOND, "uri": f"https://case.test/{SECOND}", "humanCodingScheme": "M.2",
         "fullStatement": "Add fractions", "lastChangeDateTime": "2026-01-01T00:00:00+00:00"},
    ]  # fmt: skip
    links = [(FIRST, "isChildOf", DOC), (SECOND, "isChildOf", DOC), (FIRST, "precedes", SECOND)]
    return {
        "CFDocument": {
            "identifier": DOC,
            "uri": f"https://case.test/{DOC}",
            "creator": "Learner Ledger tests",
            "title": "Fractions",
            "lastChangeDateTime": "2026-01-01T00:00:00+00:00",
        },
        "CFItems": items,
        "CFAssociations": [
            {
                "identifier": f"a1b2c3d4-0000-4000-8000-0000000001{n:02d}",
                "uri": f"https://case.test/assoc/{n}",
                "associationType": kind,
                "originNodeURI": node(origin),
                "destinationNodeURI": node(destination),
                "lastChangeDateTime": "2026-01-01T00:00:00+00:00",
            }
            for n, (origin, kind, destination) in enumerate(links)
        ],
    }
