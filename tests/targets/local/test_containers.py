"""Containers on a real Docker engine: build with streamed output, run, copy out, remove."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from labtui.targets.base import BuildFailed, NotFound, TargetError
from labtui.targets.local.containers import DockerContainers
from tests.conftest import BASE_IMAGE


def test_build_run_copy_and_remove(containers: DockerContainers, tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "ARG BASE\nFROM ${BASE}\nRUN mkdir -p /out && echo built-layer\n"
        'CMD ["sh", "-c", "echo hello from inside; echo result > /out/result.txt"]\n'
    )
    lines: list[str] = []
    steps: list[tuple[int, int]] = []
    tag = f"labtui-test/containers:{os.getpid()}"
    image = containers.build(context, tag, build_args={"BASE": BASE_IMAGE},
                             labels={"labtui.test": "yes"}, log=lines.append,
                             progress=lambda done, total: steps.append((done, total)))
    try:
        assert image.labels["labtui.test"] == "yes"
        assert any("Step 1/" in line for line in lines), lines
        assert steps and steps[-1][0] == steps[-1][1] - 1, "progress reaches the last step"
        assert tag in {t for i in containers.images("labtui.test=yes") for t in i.tags}

        container = containers.run(tag, name=f"labtui-test-{os.getpid()}",
                                   labels={"labtui.test": "yes"})
        assert containers.wait(container.id, timeout=60) == 0
        assert "hello from inside" in list(containers.logs(container.id))
        containers.copy_from(container.id, "/out", tmp_path)
        assert (tmp_path / "out" / "result.txt").read_text() == "result\n"
        assert containers.remove_container(container.id) is True
        assert containers.remove_container(container.id) is False
    finally:
        containers.remove_image(tag)
    assert containers.remove_image(tag) is False
    with pytest.raises(NotFound):
        containers.image(tag)


def test_a_failing_build_names_the_error(containers: DockerContainers, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {BASE_IMAGE}\nRUN exit 3\n")
    with pytest.raises(TargetError, match="docker build of labtui-test/broken:1 failed"):
        containers.build(tmp_path, "labtui-test/broken:1")


def test_no_engine_says_how_to_start_one(monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("docker") is None:
        pytest.skip("docker SDK client only")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(TargetError) as raised:
        DockerContainers().ping()
    message = str(raised.value)
    assert "no Docker engine is reachable" in message and "dockerd" in message
    assert "\n" not in message


def _remove_build_layers(containers: DockerContainers, lines: list[str]) -> None:
    """The classic builder keeps a cache image per finished step; a failed build leaves them
    untagged. Remove those this test's build made (never the base image)."""
    base = containers.image(BASE_IMAGE).id
    for line in lines:
        if line.startswith(" ---> ") and " " not in line[6:].strip():
            layer = line[6:].strip()
            if not base.startswith(f"sha256:{layer}"):
                containers.remove_image(layer)


def test_a_missing_base_image_names_the_base_image_input_and_the_script(
        containers: DockerContainers, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        "ARG BASE_IMAGE=python:3.11-slim\nFROM ${BASE_IMAGE}\nRUN true\n")
    with pytest.raises(BuildFailed) as raised:
        containers.build(tmp_path, "labtui-test/no-base:1",
                         build_args={"BASE_IMAGE": "labtui-test/no-such-base:1"})
    message = str(raised.value)
    assert raised.value.cause == "base-image"
    assert "the base image labtui-test/no-such-base:1 is not on this Docker engine" in message
    assert "set base-image" in message and "scripts/build-base-image.sh" in message
    assert "\n" not in message


def _self_signed(folder: Path) -> None:
    """A key and certificate for 127.0.0.1 that nothing trusts."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256()))
    (folder / "server.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption())
        + certificate.public_bytes(serialization.Encoding.PEM))


SERVE_TLS = """\
import http.server, ssl
server = http.server.HTTPServer(("127.0.0.1", 8443), http.server.SimpleHTTPRequestHandler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain("/tmp/index/server.pem")
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"""


def test_a_pip_certificate_failure_names_the_ca_bundle_input(
        containers: DockerContainers, tmp_path: Path) -> None:
    # A real one: inside the RUN step an HTTPS package index with a certificate nobody
    # trusts (as an intercepting proxy presents), and pip pointed at it.
    _self_signed(tmp_path)
    (tmp_path / "serve.py").write_text(SERVE_TLS)
    (tmp_path / "Dockerfile").write_text(
        f"FROM {BASE_IMAGE}\nCOPY server.pem serve.py /tmp/index/\n"
        "RUN python3 /tmp/index/serve.py & sleep 1; python3 -m venv /tmp/venv && "
        "/tmp/venv/bin/pip install --retries 0 --disable-pip-version-check "
        "--index-url https://127.0.0.1:8443/simple/ labtui-test-package\n")
    lines: list[str] = []
    try:
        with pytest.raises(BuildFailed) as raised:
            containers.build(tmp_path, "labtui-test/untrusted-index:1", log=lines.append)
    finally:
        _remove_build_layers(containers, lines)
    message = str(raised.value)
    assert any("CERTIFICATE_VERIFY_FAILED" in line for line in lines), lines
    assert raised.value.cause == "certificate"
    assert "step 3/3" in message and "exited with 1" in message
    assert "could not verify the TLS certificate of 127.0.0.1" in message
    assert "set ca-bundle" in message and "\n" not in message


def test_a_failing_step_says_which_step_and_what_it_printed_last(
        containers: DockerContainers, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        f"FROM {BASE_IMAGE}\nRUN echo 'no space left on the imaginary device' >&2; exit 3\n")
    with pytest.raises(BuildFailed) as raised:
        containers.build(tmp_path, "labtui-test/broken:2")
    message = str(raised.value)
    assert raised.value.cause == "step"
    assert "step 2/2 (RUN echo" in message and "exited with 3" in message
    assert message.endswith("its last output: no space left on the imaginary device")
    assert "\x1b" not in message
