"""How the `databricks` step is rolled back in two round trips, whatever its journal holds.

A workspace's deletion takes its clusters (with their libraries and settings), scopes and
tokens with it, and a cluster's deletion takes its libraries: an entry for something inside
what goes needs no call of its own, and is forgotten once what holds it is gone. Which
entries are inside is read, never guessed from names: the first round trip reads the host of
each workspace the step made and the clusters at each host a cluster entry names; the second
deletes those workspaces and clusters and undoes, at the same time, every entry that no
deletion covers (a cluster in a workspace the step did not make, an entry journaled before
hosts were).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from labtui_steps.infrastructure import records
from labtui_steps.infrastructure.common import found
from labtui_steps.record_undo import control_ref

from labtui.step import JournalEntry, StepContext
from labtui.targets.base import Cluster, DatabricksWorkspace, NotFound
from labtui.targets.resources import DATABRICKS_WORKSPACES, DatabricksHost

INSIDE_A_CLUSTER = (records.ClusterLibraries, records.ClusterAutotermination)
INSIDE_A_WORKSPACE = (records.Cluster, *INSIDE_A_CLUSTER)


@dataclass
class _Removal:
    """One call of the second round trip: what it deletes (or undoes), and the entries it
    forgets once that is done."""

    call: Callable[[], object]
    entries: list[JournalEntry] = field(default_factory=list)


def recorded_host(entry: JournalEntry) -> DatabricksHost | None:
    """The host an entry inside a workspace names; None for one journaled before hosts."""
    record = entry.record
    if isinstance(record, INSIDE_A_WORKSPACE) and record.host:
        return DatabricksHost(record.host, record.workspace_id)
    return None


def rollback(ctx: StepContext) -> None:
    """Undo the `databricks` step's journal in two round trips (see the module)."""
    databricks = ctx.target.databricks
    entries = list(reversed(ctx.journal.entries()))
    made = [entry for entry in entries
            if isinstance(entry.record, records.DatabricksWorkspace)]
    refs = [control_ref(ctx, entry.record.resource, DATABRICKS_WORKSPACES)
            for entry in made if isinstance(entry.record, records.DatabricksWorkspace)]
    clusters = [(entry, host) for entry in entries
                if isinstance(entry.record, records.Cluster)
                and (host := recorded_host(entry)) is not None]
    looks: list[Callable[[], object]] = [
        *(found(partial(databricks.get_workspace, ref)) for ref in refs),
        *(found(partial(databricks.clusters, host)) for _, host in clusters)]
    answers = ctx.gather(*looks)  # the first round trip
    ctx.check_cancelled()

    left = [entry for entry in entries if entry not in made]
    removals: list[_Removal] = []
    for entry, ref, workspace in zip(made, refs, answers[:len(made)], strict=True):
        if not isinstance(workspace, DatabricksWorkspace):  # gone already, and all in it
            ctx.journal.forget(entry)
            continue
        inside = [e for e in left if recorded_host(e) == workspace.host]
        left = [e for e in left if e not in inside]
        removals.append(_Removal(partial(databricks.delete_workspace, ref), [*inside, entry]))
    for (entry, host), listed in zip(clusters, answers[len(made):], strict=True):
        if entry not in left:
            continue  # it goes with its workspace
        left.remove(entry)
        if not isinstance(listed, list):  # the workspace is gone, and the cluster with it
            ctx.journal.forget(entry)
            continue
        name = entry.record.name if isinstance(entry.record, records.Cluster) else ""
        ids = [c.cluster_id for c in listed if isinstance(c, Cluster) and c.name == name]
        inside = [e for e in left if isinstance(e.record, INSIDE_A_CLUSTER)
                  and recorded_host(e) == host and e.record.cluster_id in ids]
        left = [e for e in left if e not in inside]
        removals.append(_Removal(partial(_delete_clusters, ctx, host, ids), [*inside, entry]))
    removals += [_Removal(partial(entry.record.undo, ctx), [entry]) for entry in left]

    def remove(removal: _Removal) -> None:
        removal.call()
        for entry in removal.entries:
            ctx.journal.forget(entry)

    ctx.gather(*(partial(remove, removal) for removal in removals))  # the second


def _delete_clusters(ctx: StepContext, host: DatabricksHost, ids: list[str]) -> None:
    for cluster_id in ids:
        try:
            ctx.target.databricks.delete_cluster(host, cluster_id)
        except NotFound:
            continue
