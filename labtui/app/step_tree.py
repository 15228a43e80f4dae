"""The step tree: sections → steps → environments, each with its status, and the progress."""

from __future__ import annotations

from collections.abc import Collection

from rich.text import Text
from textual.message import Message
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from labtui.app.model import STATUS_GLYPHS, Lab, Section, Selection, TreeNodeData, UnitKey


def status_text(word: str) -> Text:
    """A status word in its colour, for places that render Rich text (the tree's labels)."""
    rich_styles = {"not done": "dim", "running": "bold cyan", "done": "green",
                   "partial": "cyan", "failed": "bold red", "drift": "yellow",
                   "interrupted": "bold yellow", "needs input": "magenta", "manual": "blue"}
    return Text(word, style=rich_styles.get(word, ""))


def node_label(name: str, word: str, *, with_word: bool = True) -> Text:
    label = Text()
    label.append(STATUS_GLYPHS.get(word, "?"), style=status_text(word).style)
    label.append(" ")
    label.append(name)
    if with_word:
        label.append(" ")
        label.append_text(status_text(word))
    return label


def legend(width: int = 25) -> Text:
    """What each glyph means, for the narrow tree that shows glyphs without words; packed
    into lines of `width` cells so a glyph and its word never part."""
    text = Text()
    line = 0
    for word, glyph in STATUS_GLYPHS.items():
        entry = len(glyph) + 1 + len(word)
        if line and line + 2 + entry > width:
            text.append("\n")
            line = 0
        elif line:
            text.append("  ")
            line += 2
        text.append(glyph, style=status_text(word).style)
        text.append(f" {word}", style="dim")
        line += entry
    return text


class ProgressLine(Static):
    """ "Progress ▰▰▱▱ 3 of 23 done" above the tree."""

    def show(self, done: int, total: int) -> None:
        width = 10
        filled = round(width * done / total) if total else 0
        text = Text("▰" * filled, style="green")
        text.append("▱" * (width - filled), style="dim")
        text.append(f" {done} of {total} done")
        self.update(text)


class StepTree(Tree[TreeNodeData]):
    """Every step of the lab, by section; arrows and the mouse move, the detail follows the
    cursor. A section's own node stands for all of its steps (Run runs them in order)."""

    class Populated(Message):
        """Every node is in the tree (a moment after the first frame)."""

    def __init__(self, lab: Lab, *, id: str | None = None) -> None:
        super().__init__("Lab", id=id)
        self.lab = lab
        self.show_root = False
        self.guide_depth = 2
        self.auto_expand = False  # Enter goes to the values; it must not fold the node
        self._step_nodes: dict[UnitKey, TreeNode[TreeNodeData]] = {}
        self._section_nodes: dict[str, TreeNode[TreeNodeData]] = {}
        self.with_words = True
        """Status words after the names; a narrow screen shows the glyphs only (and a legend)."""
        self._labels: dict[int, Text] = {}

    def on_mount(self) -> None:
        # After the first frame: the banner and the frame paint first, the steps a moment later.
        self.call_after_refresh(self.populate)

    def populate(self) -> None:
        """Add every section, step and environment, with their statuses."""
        for section, steps in self.lab.catalog.sections():
            section_node = self.root.add(Text(section, style="bold"),
                                         data=Section(section, tuple(steps)), expand=True)
            self._section_nodes[section] = section_node
            for step in steps:
                selection = Selection(step)
                if step.per_environment:
                    node = section_node.add(step.id, data=selection, expand=True)
                    for env in step.environments():
                        self._step_nodes[(step.id, env)] = node.add_leaf(
                            env or "", data=Selection(step, env))
                else:
                    node = section_node.add_leaf(step.id, data=selection)
                self._step_nodes[(step.id, None)] = node
        self.refresh_statuses()
        self.post_message(self.Populated())

    def refresh_statuses(self, running: Collection[UnitKey] = ()) -> None:
        """Relabel the nodes whose status changed (each unit's status is read once)."""
        if not self._section_nodes:
            return  # not populated yet: it labels every node when it is
        words: dict[UnitKey, str] = {}
        for step in self.lab.catalog:
            for unit in Selection(step).units:
                words[(unit.id, unit.env)] = self.lab.status_word(unit, running)
        for (step_id, env), node in self._step_nodes.items():
            selection = node.data
            if not isinstance(selection, Selection):
                continue
            word = self.lab.selection_word(selection, running, known=words)
            self._relabel(node, node_label(env or step_id, word, with_word=self.with_words))
        for section, steps in self.lab.catalog.sections():
            keys = [(unit.id, unit.env) for step in steps for unit in Selection(step).units]
            done = sum(1 for key in keys if words[key] == "done")
            label = Text(section, style="bold")
            label.append(f" {done}/{len(keys)}", style="dim")
            self._relabel(self._section_nodes[section], label)

    def _relabel(self, node: TreeNode[TreeNodeData], label: Text) -> None:
        if self._labels.get(node.id) != label:
            self._labels[node.id] = label
            node.set_label(label)

    def select_step(self, step_id: str, env: str | None = None) -> bool:
        """Move the cursor to a step (or one of its environments); False if it is unknown."""
        node = self._step_nodes.get((step_id, env)) or self._step_nodes.get((step_id, None))
        if node is None:
            return False
        if node.parent is not None:
            node.parent.expand()
        # Node line numbers are only right once the tree has (re)built its lines.
        _ = self._tree_lines
        self.move_cursor(node)
        return True

    def select_section(self, name: str) -> bool:
        """Move the cursor to a section's own node; False if there is no such section."""
        node = self._section_nodes.get(name)
        if node is None:
            return False
        _ = self._tree_lines
        self.move_cursor(node)
        return True

    @property
    def selection(self) -> TreeNodeData | None:
        node = self.cursor_node
        return node.data if node is not None else None
