"""The proctor: the lab's reset, provision, status and export for every attendee of a roster.

`roster` reads who attends; `fleet` works on them through the engine; `events` and `results`
are what it reports; `export` writes the masked bundles; `command` is `labtui proctor …`.
Nothing is imported here, so the command line's parser (which imports `command`) stays fast.
"""
