"""Port groups that have a module of their own; `labtui.targets.base` re-exports them."""
