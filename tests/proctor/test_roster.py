"""Rosters: what a proctor writes is read as meant, and every bad row is named by its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from labtui.catalog import Catalog
from labtui.proctor.roster import RosterError, load_roster
from tests.proctor.conftest import write_roster

HEADER = ["attendee", "prefix", "workspace", "demo-dir", "demo-secret"]
ENV = {"ADA_SECRET": "ada-canary-0001", "BOB_SECRET": "bob-canary-0002"}


def problems(path: Path, catalog: Catalog, environ: dict[str, str] | None = None) -> list[str]:
    """What is wrong with the roster: its fatal problems, else the rows it left out."""
    try:
        roster = load_roster(path, catalog.fields(), ENV if environ is None else environ)
    except RosterError as caught:
        return caught.problems
    assert roster.rejected, "a roster with a problem"
    return list(roster.rejected)


def test_a_good_roster_gives_each_attendee_their_own_values(tmp_path: Path,
                                                             demo_catalog: Catalog) -> None:
    (tmp_path / "room").mkdir()
    path = write_roster(tmp_path / "room" / "roster.csv", [*HEADER, "target"], [
        ["ada", "contoso1", "ws/ada", "/data/ada", "ADA_SECRET", ""],
        ["bob", "contoso2", "/abs/bob", "/data/bob", "BOB_SECRET", "local"],
    ])
    roster = load_roster(path, demo_catalog.fields(), ENV)
    ada, bob = roster.attendees
    assert (ada.id, ada.prefix, ada.line, ada.target) == ("ada", "contoso1", 2, None)
    assert ada.workspace == tmp_path / "room" / "ws" / "ada", "relative to the roster's folder"
    assert bob.workspace == Path("/abs/bob") and bob.target == "local"
    assert ada.values == {"prefix": "contoso1", "demo-dir": "/data/ada"}
    assert ada.secrets(ENV) == {"demo-secret": "ada-canary-0001"}
    assert bob.secrets(ENV) == {"demo-secret": "bob-canary-0002"}
    assert [a.id for a in roster.select(["bob"])] == ["bob"]


def test_duplicates_are_refused_naming_both_lines(tmp_path: Path, demo_catalog: Catalog) -> None:
    path = write_roster(tmp_path / "roster.csv", HEADER, [
        ["ada", "contoso1", "ws/ada", "", ""],
        ["bob", "contoso2", "ws/bob", "", ""],
        ["Ada", "contoso3", "ws/x", "", ""],
        ["cy", "contoso2", "ws/cy", "", ""],
        ["dee", "contoso5", "ws/../ws/bob", "", ""],
    ])
    assert problems(path, demo_catalog) == [
        "roster.csv line 4: duplicate attendee 'Ada' (also on line 2)",
        "roster.csv line 5: duplicate prefix 'contoso2' (also on line 3)",
        "roster.csv line 6: duplicate workspace 'ws/../ws/bob' (also on line 3)",
    ]


def test_missing_columns_are_named(tmp_path: Path, demo_catalog: Catalog) -> None:
    path = write_roster(tmp_path / "roster.csv", ["attendee", "workspace"], [["ada", "ws/a"]])
    assert problems(path, demo_catalog) == [
        "roster.csv line 1: missing column 'prefix' (a roster needs attendee, prefix, workspace)"]


def test_bad_cells_are_reported_by_line_with_the_rule(tmp_path: Path,
                                                      demo_catalog: Catalog) -> None:
    path = write_roster(tmp_path / "roster.csv", [*HEADER, "target", "demo-count"], [
        ["ada", "Contoso-1", "ws/ada", "", "", "", ""],
        ["bob", "contoso2", "", "", "", "moon", "three"],
        ["cy", "contoso3", "ws/cy", "", ""],
    ])
    found = problems(path, demo_catalog)
    assert found[0].startswith("roster.csv line 2: prefix 'Contoso-1': 3-11 lowercase letters")
    assert found[1:] == [
        "roster.csv line 3: workspace is empty",
        "roster.csv line 3: target 'moon' is not installed (installed: azure, local)",
        "roster.csv line 3: demo-count: a whole number",
        "roster.csv line 4: 5 cells, but the header has 7 columns",
    ]


def test_unknown_columns_are_refused(tmp_path: Path, demo_catalog: Catalog) -> None:
    path = write_roster(tmp_path / "roster.csv", ["attendee", "prefix", "workspace", "colour"],
                        [["ada", "contoso1", "ws/a", "blue"]])
    (problem,) = problems(path, demo_catalog)
    assert problem.startswith("roster.csv line 1: unknown column 'colour' (not attendee, prefix, "
                              "workspace, target, or an input of an installed step: demo-count")


def test_a_secret_column_must_name_a_set_variable_and_never_echoes_the_cell(
        tmp_path: Path, demo_catalog: Catalog) -> None:
    path = write_roster(tmp_path / "roster.csv", HEADER, [
        ["ada", "contoso1", "ws/ada", "", "p@ss-w0rd!pasted"],
        ["bob", "contoso2", "ws/bob", "", "BOB_SECRET"],
        ["cy", "contoso3", "ws/cy", "", "CY_TOKEN_NOT_SET"],
    ])
    found = problems(path, demo_catalog)
    assert found == [
        "roster.csv line 2: column 'demo-secret' is a secret input: it must hold the name of an "
        "environment variable (like ADA_DEMO_SECRET), never the secret itself",
        "roster.csv line 4: column 'demo-secret' names an environment variable that is not set "
        "in this shell (set it, then run the proctor again)",
    ]
    assert not any("p@ss" in p or "CY_TOKEN" in p for p in found)


def test_a_toml_roster_is_read_the_same_way(tmp_path: Path, demo_catalog: Catalog) -> None:
    path = tmp_path / "roster.toml"
    path.write_text('[[attendee]]\nattendee = "ada"\nprefix = "contoso1"\nworkspace = "ws/ada"\n'
                    'demo-secret = "ADA_SECRET"\ndemo-count = 2\n\n'
                    '[[attendee]]\nattendee = "bob"\nprefix = "contoso1"\nworkspace = "ws/bob"\n')
    assert problems(path, demo_catalog) == [
        "roster.toml line 8: duplicate prefix 'contoso1' (also on line 1)"]
    path.write_text(path.read_text().replace('"contoso1"\nworkspace = "ws/bob"',
                                             '"contoso2"\nworkspace = "ws/bob"'))
    ada, bob = load_roster(path, demo_catalog.fields(), ENV).attendees
    assert ada.values == {"prefix": "contoso1", "demo-count": "2"}
    assert ada.secrets(ENV) == {"demo-secret": "ada-canary-0001"}
    assert bob.prefix == "contoso2" and bob.line == 8


def test_only_names_unknown_attendees(tmp_path: Path, demo_catalog: Catalog) -> None:
    path = write_roster(tmp_path / "roster.csv", HEADER, [["ada", "contoso1", "ws/a", "", ""]])
    roster = load_roster(path, demo_catalog.fields(), ENV)
    with pytest.raises(RosterError, match="no attendee 'zed' \\(attendees: ada\\)"):
        roster.select(["zed"])


def test_a_bad_row_is_left_out_and_the_good_ones_are_kept(tmp_path: Path,
                                                          demo_catalog: Catalog) -> None:
    path = write_roster(tmp_path / "roster.csv", HEADER, [
        ["ada", "contoso1", "ws/ada", "", "ADA_SECRET"],
        ["bob", "Bad-Prefix", "ws/bob", "", "BOB_SECRET"],
        ["cy", "contoso3", "ws/cy"],
    ])
    roster = load_roster(path, demo_catalog.fields(), ENV)
    assert [attendee.id for attendee in roster] == ["ada"]
    assert [problem.split(":")[0] for problem in roster.rejected] == [
        "roster.csv line 3", "roster.csv line 4"]
    assert roster.select(["ada"]).rejected == roster.rejected, "--only keeps them named"


def test_a_bad_toml_table_is_left_out_too(tmp_path: Path, demo_catalog: Catalog) -> None:
    path = tmp_path / "roster.toml"
    path.write_text('[[attendee]]\nattendee = "ada"\nprefix = "contoso1"\nworkspace = "ws/a"\n\n'
                    '[[attendee]]\nattendee = "bob"\nprefix = "contoso2"\n')
    roster = load_roster(path, demo_catalog.fields(), ENV)
    assert [attendee.id for attendee in roster] == ["ada"]
    assert roster.rejected == ("roster.toml line 6: missing key 'workspace'",)
