"""Where the azure target's calls go and which certificates it trusts there.

Every SDK client and credential the target builds gets its transport here, so the CA bundle
(`azure-ca-bundle`) is trusted by exactly these connections and never process-wide.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labtui.targets.azure.options import PUBLIC_ARM, PUBLIC_AUTHORITY, PUBLIC_GRAPH

if TYPE_CHECKING:
    from azure.core.pipeline.transport import RequestsTransport


@dataclass(frozen=True)
class Endpoints:
    """The cloud's endpoints, without a trailing slash, and the CA bundle (None: the default
    trust store)."""

    authority: str = PUBLIC_AUTHORITY
    arm: str = PUBLIC_ARM
    graph: str = PUBLIC_GRAPH
    ca_bundle: Path | None = None
    read_timeout: float = 60.0

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> Endpoints:
        ca = settings.get("azure-ca-bundle")
        return cls(
            authority=settings.get("azure-authority", PUBLIC_AUTHORITY).rstrip("/"),
            arm=settings.get("azure-arm-endpoint", PUBLIC_ARM).rstrip("/"),
            graph=settings.get("azure-graph-endpoint", PUBLIC_GRAPH).rstrip("/"),
            ca_bundle=Path(ca).expanduser() if ca else None,
        )

    @property
    def arm_scope(self) -> str:
        # The token's audience is public ARM's even where base_url is another host (a
        # sovereign cloud names its own; loopback fakes accept the public one).
        return f"{self.arm if self.arm_is_sovereign else PUBLIC_ARM}/.default"

    @property
    def graph_scope(self) -> str:
        # As for ARM: a sovereign cloud's Graph (graph.microsoft.us …) names its own audience,
        # any other host (loopback fakes) takes tokens for public Graph.
        host = self.graph.split("://", 1)[-1]
        own = host.startswith("graph.") and self.graph != PUBLIC_GRAPH
        return f"{self.graph if own else PUBLIC_GRAPH}/.default"

    @property
    def arm_is_sovereign(self) -> bool:
        host = self.arm.split("://", 1)[-1]
        return host.startswith("management.") and self.arm != PUBLIC_ARM

    @property
    def custom_authority(self) -> bool:
        """An authority MSAL cannot look up at login.microsoftonline.com (instance discovery
        is turned off for it)."""
        return self.authority != PUBLIC_AUTHORITY

    def transport(self) -> RequestsTransport:
        """A new transport (each client owns its session) trusting the CA bundle if one is
        given."""
        from azure.core.pipeline.transport import RequestsTransport

        verify: Any = str(self.ca_bundle) if self.ca_bundle else True
        return RequestsTransport(connection_verify=verify, read_timeout=self.read_timeout)

    def credential_kwargs(self) -> dict[str, Any]:
        """What an azure-identity credential needs to sign in at this authority."""
        kwargs: dict[str, Any] = {"authority": self.authority, "transport": self.transport()}
        if self.custom_authority:
            kwargs["disable_instance_discovery"] = True
        return kwargs
