#!/bin/sh
# Test the inference container, as the lab's "Test Inference Container" does, through labtui:
# it extends the image runbuild_local built with these tests, runs them with coverage inside
# it and shows the results (JUnit, Cobertura and the HTML report, in labtui's artifacts).
#   ./runtests_local.sh              (labtui options may follow: --force, --json …)
set -e
here=$(cd "$(dirname "$0")" && pwd)
set -- --step test-image --headless "$@"
# A working copy labtui cloned lives in <workspace>/repos/<project>: use that workspace.
if [ -z "${LABTUI_WORKSPACE:-}" ] && [ -f "$here/../../../state.db" ]; then
    set -- "$@" --workspace "$(cd "$here/../../.." && pwd)"
fi
exec "${LABTUI:-labtui}" "$@"
