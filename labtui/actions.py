"""A step's actions: what a person does to a step's result that is not a run.

A reviewer approving a pull request, or a release manager rejecting a deployment, acts as
themselves on something the step made. A step declares these as `Action`s (`Step.actions`),
each with its own inputs, and the engine calls `Step.act` with the one chosen and the inputs
given, journaled in the run history like a run and verified after it.

`APPROVE` and `REJECT` are the two every approval shares (a pull request's review, a
pipeline's approval check): `as` names the person, `comment` says why (required to reject).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from labtui.step import Field
from labtui.validation import naming_rule


@dataclass(frozen=True)
class Action:
    """One thing a person can do to a step's result.

    `name` is kebab-case and stable: headless it is the flag (`--approve`), in the app a
    button and a command. `inputs` are asked for each time (they are not lab values: nothing
    is saved); `label` is what the app shows.
    """

    name: str
    label: str
    inputs: tuple[Field, ...] = ()
    help: str = ""

    def problems(self, given: Mapping[str, str], *, flags: bool = True) -> list[str]:
        """One line for each input that is missing or breaks its rule, naming the flag
        (`--as`), or with `flags` off the input's label (for a form)."""
        found: list[str] = []
        for field in self.inputs:
            value = given.get(field.name, "")
            if not value.strip():
                if field.required and flags:
                    found.append(f"--{self.name} needs --{field.name} ({field.label.lower()}"
                                 f"{': ' + field.help if field.help else ''})")
                elif field.required:
                    found.append(f"{field.label}: needed ({field.help})" if field.help
                                 else f"{field.label}: needed")
                continue
            problem = field.check(value)
            if problem:
                rule = problem.removeprefix(f"{field.name}: ")
                found.append(f"--{field.name} {value!r}: {rule}" if flags
                             else f"{field.label}: {rule}")
        unknown = sorted(set(given) - {field.name for field in self.inputs})
        found.extend(f"--{self.name} takes no --{name}" for name in unknown if given[name])
        return found


class ActionError(Exception):
    """An action was asked for that the step does not offer, or with bad inputs; `problems`
    holds one line for each (bad usage: exit 2 headless)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


PERSON = Field("as", "Your name", validate=naming_rule("person"),
               help="the reviewer's or approver's name, e.g. ada")
COMMENT = Field("comment", "Comment", required=False,
                help="what you say with it (shown to the author)")
REASON = Field("comment", "Comment", help="why: the author reads it to know what to fix")

APPROVE = Action("approve", "Approve", (PERSON, COMMENT),
                 "approve as the named reviewer or approver")
REJECT = Action("reject", "Reject", (PERSON, REASON),
                "reject as the named reviewer or approver, saying why")
