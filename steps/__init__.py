"""The lab's content: one module per lab section, registered as `labtui.steps` entry points."""
