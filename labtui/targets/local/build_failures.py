"""Why a docker build failed, said in one line with the fix, read from the build's own output.

The engine's error for a failed build is terse: a DNS error with no image name when the base
image cannot be pulled, "returned a non-zero code: 1" when pip inside a RUN step could not
verify a certificate (the certificate error is a few lines earlier in the output). A
`BuildTranscript` follows the classic builder's stream — which step runs, the ARG defaults and
build args its FROM lines use, what the step printed — so that the failure names the cause.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from labtui.plain_text import strip_escapes
from labtui.targets.base import BuildFailed

STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
ARG = re.compile(r"^ARG\s+([A-Za-z_]\w*)(?:=(\S*))?", re.IGNORECASE)
FROM = re.compile(r"^FROM\s+(?:--platform=\S+\s+)?(\S+)", re.IGNORECASE)
VARIABLE = re.compile(r"\$(?:\{([A-Za-z_]\w*)\}|([A-Za-z_]\w*))")
ENGINE_NOISE = re.compile(r"^ ---> |^Removing intermediate container |^\s*$")
UNREACHABLE = re.compile(
    r"no such host|dial tcp|i/o timeout|connection refused|network is unreachable|"
    r"TLS handshake timeout|Temporary failure in name resolution", re.IGNORECASE)
CERTIFICATE = re.compile(
    r"CERTIFICATE_VERIFY_FAILED|certificate verify failed|SSLCertVerificationError|"
    r"x509: certificate|unable to get local issuer certificate", re.IGNORECASE)
NO_NETWORK = re.compile(
    r"NewConnectionError|Temporary failure in name resolution|Name or service not known|"
    r"Network is unreachable|Failed to establish a new connection", re.IGNORECASE)
HOST = re.compile(r"host='([^']+)'|https?://([^/\s:'\"]+)")
EXIT_CODE = re.compile(r"returned a non-zero code: (\d+)")
BASE_IMAGE_FIX = (
    "set base-image to an image this engine has (`docker images`), or build one without a "
    "registry: `sudo scripts/build-base-image.sh` makes labtui/python:3.11-bookworm")
CA_BUNDLE_FIX = (
    "where a proxy intercepts HTTPS, set ca-bundle to a CA bundle that trusts it "
    "(e.g. /etc/ssl/certs/ca-certificates.crt)")


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class BuildTranscript:
    """Follows one build's output lines; `failure(error)` explains the engine's error."""

    def __init__(self, tag: str, build_args: Mapping[str, str] | None = None) -> None:
        self.tag = tag
        self._args = dict(build_args or {})
        self._defaults: dict[str, str] = {}
        self.position = ""
        self.instruction = ""
        self.output: list[str] = []

    def line(self, line: str) -> None:
        """Take one line of the build's output."""
        text = strip_escapes(line).rstrip()
        step = STEP.match(text)
        if step:
            self.position, self.instruction = f"{step[1]}/{step[2]}", step[3].strip()
            self.output = []
            arg = ARG.match(self.instruction)
            if arg and arg[2] is not None:
                self._defaults[arg[1]] = arg[2]
        elif not ENGINE_NOISE.match(text):
            self.output.append(text)

    def _expand(self, word: str) -> str:
        def value(match: re.Match[str]) -> str:
            name = match[1] or match[2]
            return self._args.get(name) or self._defaults.get(name, "")

        return VARIABLE.sub(value, word)

    def failure(self, error: str) -> BuildFailed:
        """The build failed with the engine's `error`: say why, and what to do."""
        code = EXIT_CODE.search(error)
        error = _short(strip_escapes(error).strip() or "no reason given")
        where = f"docker build of {self.tag} failed"
        base = FROM.match(self.instruction)
        if base:
            image = self._expand(base[1])
            why = ("no registry is reachable" if UNREACHABLE.search(error)
                   else "the registry does not have it")
            return BuildFailed(
                f"{where}: the base image {image} is not on this Docker engine and cannot be "
                f"pulled ({why}: {error}); {BASE_IMAGE_FIX}", cause="base-image", image=image)
        failed = (f"step {self.position} ({_short(self.instruction, 60)}) "
                  f"{'exited with ' + code[1] if code else 'failed'}")
        certificate = next((line for line in self.output if CERTIFICATE.search(line)), None)
        if certificate is not None:
            return BuildFailed(
                f"{where}: {failed} because a download could not verify the TLS certificate of "
                f"{self._host(certificate)} (CERTIFICATE_VERIFY_FAILED); {CA_BUNDLE_FIX}",
                cause="certificate")
        offline = next((line for line in self.output if NO_NETWORK.search(line)), None)
        if offline is not None:
            return BuildFailed(
                f"{where}: {failed} because a download could not reach "
                f"{self._host(offline)}: the Docker engine's builds have no network access "
                "(give the engine a proxy, or install from wheels in the build context)",
                cause="network")
        last = next((line for line in reversed(self.output) if line.strip()), "")
        said = f"; its last output: {_short(last)}" if last else ""
        return BuildFailed(f"{where}: {failed if self.position else error}{said}",
                           cause="step")

    @staticmethod
    def _host(line: str) -> str:
        match = HOST.search(line)
        return (match[1] or match[2]) if match else "the package index"
