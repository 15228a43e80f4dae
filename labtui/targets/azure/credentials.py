"""Signing in to Azure: a chain of azure-identity credentials, tried in order.

- `environment`: a service principal from AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (and
  AZURE_TENANT_ID, which must then be the tenant-id option);
- `cli`: the `az login` cache (`AzureCliCredential`);
- `device-code`: `DeviceCodeCredential`, whose prompt callback lets the front end show the
  verification URL and the code itself (the app draws them; headless prints them on stderr).

`auto` tries the three in that order and offers the device code only where someone can act on
it (a front end gave a prompt, or headless runs in a terminal). A link that is not set up (no
variables, no `az`, not logged in) hands on to the next; a link that is set up but refused
(a wrong client secret) stops the chain, since falling back would sign in as someone else.
Every failure is one line, never holding a secret.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from labtui.targets.azure.endpoints import Endpoints
from labtui.targets.errors import TargetError

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken, TokenCredential

DeviceCodePrompt = Callable[[str, str, datetime], None]
"""(verification URL, user code, when the code expires) — shown to the attendee."""

REFRESH_MARGIN = 300  # seconds: a cached token closer than this to its expiry is renewed


class SignInError(TargetError):
    """No credential of the chain could sign in; the message says what each one lacked."""


def first_line(error: BaseException) -> str:
    """The first line of an SDK error (azure-identity appends trace ids and hints)."""
    text = str(error).strip()
    return text.splitlines()[0].strip() if text else type(error).__name__


def print_device_code(url: str, code: str, expires_on: datetime) -> None:
    """The headless prompt: one line on stderr."""
    print(f"labtui: to sign in to Azure, open {url} and enter the code {code} "
          f"(valid until {expires_on:%H:%M} UTC)", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Link:
    """One way to sign in: `make` returns a credential, or why this way is not set up."""

    name: str
    make: Callable[[], TokenCredential | str]


class SignIn:
    """A TokenCredential over the chain: the first link that signs in is kept for every later
    token, and tokens are cached per scope until shortly before they expire (the `az` link
    would otherwise start a process per request)."""

    def __init__(self, tenant_id: str, links: list[Link], hint: str) -> None:
        self.tenant_id = tenant_id
        self.links = links
        self.hint = hint
        self.method: str | None = None
        """The name of the link that signed in, once one has."""
        self._chosen: TokenCredential | None = None
        self._cache: dict[tuple[str, ...], AccessToken] = {}
        self._lock = threading.Lock()

    def get_token(self, *scopes: str, claims: str | None = None, tenant_id: str | None = None,
                  enable_cae: bool = False, **kwargs: Any) -> AccessToken:
        from azure.core.exceptions import ClientAuthenticationError

        with self._lock:
            cached = self._cache.get(scopes)
            if claims is None and cached and cached.expires_on - time.time() > REFRESH_MARGIN:
                return cached
            if self._chosen is not None:
                try:
                    token = self._chosen.get_token(*scopes, claims=claims, **kwargs)
                except ClientAuthenticationError as exc:
                    raise SignInError(f"signing in to tenant {self.tenant_id} with "
                                      f"{self.method} failed: {first_line(exc)}") from None
            else:
                token = self._first_token(scopes, claims, kwargs)
            self._cache[scopes] = token
            return token

    def _first_token(self, scopes: tuple[str, ...], claims: str | None,
                     kwargs: dict[str, Any]) -> AccessToken:
        from azure.core.exceptions import ClientAuthenticationError
        from azure.identity import CredentialUnavailableError

        missing: list[str] = []
        for link in self.links:
            made = link.make()
            if isinstance(made, str):
                missing.append(f"{link.name}: {made}")
                continue
            try:
                token = made.get_token(*scopes, claims=claims, **kwargs)
            except CredentialUnavailableError as exc:
                missing.append(f"{link.name}: {first_line(exc)}")
                continue
            except ClientAuthenticationError as exc:
                raise SignInError(f"cannot sign in to tenant {self.tenant_id} with {link.name}: "
                                  f"{first_line(exc)}") from None
            self._chosen, self.method = made, link.name
            return token
        raise SignInError(f"cannot sign in to tenant {self.tenant_id}: {'; '.join(missing)} "
                          f"({self.hint})")

    def close(self) -> None:
        close = getattr(self._chosen, "close", None)
        if close is not None:
            close()


def _environment_link(tenant_id: str, endpoints: Endpoints, environ: Mapping[str, str]) -> Link:
    def make() -> TokenCredential | str:
        from azure.identity import ClientSecretCredential

        client_id = environ.get("AZURE_CLIENT_ID", "").strip()
        secret = environ.get("AZURE_CLIENT_SECRET", "")
        unset = [name for name, value in (("AZURE_CLIENT_ID", client_id),
                                          ("AZURE_CLIENT_SECRET", secret)) if not value]
        if unset:
            return f"{' and '.join(unset)} {'is' if len(unset) == 1 else 'are'} not set"
        env_tenant = environ.get("AZURE_TENANT_ID", "").strip()
        if env_tenant and env_tenant.lower() != tenant_id.lower():
            raise SignInError(f"AZURE_TENANT_ID is {env_tenant}, but tenant-id is {tenant_id}: "
                              "make them the same tenant (or unset AZURE_TENANT_ID)")
        return ClientSecretCredential(tenant_id, client_id, secret,
                                      **endpoints.credential_kwargs())

    return Link("a service principal (AZURE_CLIENT_ID)", make)


def _cli_link(tenant_id: str) -> Link:
    def make() -> TokenCredential | str:
        from azure.identity import AzureCliCredential

        return AzureCliCredential(tenant_id=tenant_id, process_timeout=30)

    return Link("az login", make)


def _device_code_link(tenant_id: str, endpoints: Endpoints,
                      prompt: DeviceCodePrompt | None, timeout: int) -> Link:
    def make() -> TokenCredential | str:
        from azure.identity import DeviceCodeCredential

        if prompt is None:
            return "no terminal or app to show the code in"
        return DeviceCodeCredential(tenant_id=tenant_id, prompt_callback=prompt, timeout=timeout,
                                    **endpoints.credential_kwargs())

    return Link("a device code", make)


def _quiet_sdk_loggers() -> None:
    # azure-identity and MSAL log each link that fails as a warning; with no logging set up,
    # Python would print those on stderr beside labtui's own one line. A NullHandler keeps
    # them for whoever configures logging, and off the terminal otherwise.
    for name in ("azure", "msal"):
        logger = logging.getLogger(name)
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(logging.NullHandler())


def sign_in(kind: str, tenant_id: str, endpoints: Endpoints, *,
            environ: Mapping[str, str], prompt: DeviceCodePrompt | None,
            device_code_timeout: int = 300) -> SignIn:
    """The credential for `kind` (auto, environment, cli, device-code). Nothing is asked of
    the network until the first token is wanted.

    `prompt` shows a device code; None means nobody can act on one (then `auto` leaves the
    device code out, and `device-code` fails saying so).
    """
    _quiet_sdk_loggers()
    environment = _environment_link(tenant_id, endpoints, environ)
    cli = _cli_link(tenant_id)
    device = _device_code_link(tenant_id, endpoints, prompt, device_code_timeout)
    chains = {
        "auto": ([environment, cli, device],
                 "run `az login --tenant TENANT`, set AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, "
                 "or run in a terminal to sign in with a device code"),
        "environment": ([environment], "set AZURE_CLIENT_ID and AZURE_CLIENT_SECRET of a "
                        "service principal, or choose another azure-credential"),
        "cli": ([cli], "run `az login --tenant TENANT`, or choose another azure-credential"),
        "device-code": ([device], "run in a terminal or the app, or choose another "
                        "azure-credential"),
    }
    if kind not in chains:
        raise TargetError(f"azure-credential: one of {', '.join(chains)} (got {kind!r})")
    links, hint = chains[kind]
    return SignIn(tenant_id, links, hint.replace("TENANT", tenant_id))
