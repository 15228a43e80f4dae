#!/bin/sh
# Build the inference container, as the lab's "Build Inference Container" does, through labtui:
# it takes the newest worst_regression from your dev ML workspace, builds the image from this
# folder of your working copy and checks that it answers a scoring request.
#
# Set these four for your dev environment (they stay the same for this algorithm and your
# machine); an empty one keeps what labtui already has. Then, from this folder:
#   ./runbuild_local.sh              (labtui options may follow: --force, --plan, --json …)
subscription_id=""
ml_resource_group=""
ml_workspace_name=""
ml_alg_author=""

set -e
here=$(cd "$(dirname "$0")" && pwd)
set -- --step build-image --headless "$@"
if [ -n "$subscription_id" ]; then set -- "$@" --set "subscription-id=$subscription_id"; fi
if [ -n "$ml_resource_group" ]; then set -- "$@" --set "resource-group=$ml_resource_group"; fi
if [ -n "$ml_workspace_name" ]; then set -- "$@" --set "ml-workspace-name=$ml_workspace_name"; fi
if [ -n "$ml_alg_author" ]; then set -- "$@" --set "created-by=$ml_alg_author"; fi
# A working copy labtui cloned lives in <workspace>/repos/<project>: use that workspace.
if [ -z "${LABTUI_WORKSPACE:-}" ] && [ -f "$here/../../../state.db" ]; then
    set -- "$@" --workspace "$(cd "$here/../../.." && pwd)"
fi
exec "${LABTUI:-labtui}" "$@"
