"""The storage data plane as azure-storage-file-datalake calls it: DFS, and the blob calls it
makes underneath, on one HTTPS host with path-style accounts (`/<account>/<fs>/<path>`).

For a 127.0.0.1 account URL the SDK neither splits the blob and dfs hosts nor reads the account
from the host name: it sends both APIs to `https://127.0.0.1:<port>/<account>/…`. Calls served:
- blob: container create / delete / properties (`restype=container`), list (`comp=list`, XML),
  blob download (GET with `x-ms-range`, 206 + Content-Range) and properties (HEAD);
- dfs: `resource=file|directory` create (intermediate directories too; `If-None-Match: *`),
  `action=append` at a `position`, `action=flush` to a position (honours `If-Match`), path list
  (`resource=filesystem`, JSON, `x-ms-continuation` past `maxResults`), delete, and ACLs:
  `action=getAccessControl` (HEAD; `x-ms-owner`, `x-ms-group`, `x-ms-permissions`, `x-ms-acl`),
  `action=setAccessControl` (replaces the whole ACL), `action=setAccessControlRecursive` with
  `mode=set|modify|remove`, batches of `maxRecords` and `x-ms-continuation`.
POSIX ACL rules kept: files have no default ACL (default entries are skipped on files); a new
path inherits its parent's default entries; a named entry's effective permission is capped by
the `mask` entry, which a modify keeps when present (so a lab that needs its named entries to
work sets `mask::rwx` itself) and creates as the union of the group class when absent.
Errors are JSON for dfs and XML for blob, each with `x-ms-error-code`, as the service sends them.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from xml.sax.saxutils import escape

import trustme

from .identity import FakeEntra
from .server import FakeAzure, Request, Response

STORAGE_AUDIENCE = "https://storage.azure.com"
BASE = ("user:", "group:", "other:")


def _etag() -> str:
    return f'"0x8D{uuid.uuid4().hex[:13].upper()}"'


def _now() -> str:
    return formatdate(time.time(), usegmt=True)


def parse_acl(text: str) -> tuple[dict[str, str], dict[str, str]]:
    """`[default:]type:id:perms,…` → (access, default), keyed `type:id`."""
    access: dict[str, str] = {}
    default: dict[str, str] = {}
    for entry in filter(None, (e.strip() for e in text.split(","))):
        parts = entry.split(":")
        target = access
        if parts[0] == "default":
            target, parts = default, parts[1:]
        if len(parts) == 3:
            target[f"{parts[0]}:{parts[1]}"] = parts[2]
        elif len(parts) == 2:  # remove mode: no permissions
            target[f"{parts[0]}:{parts[1]}"] = ""
        else:
            raise ValueError(entry)
    return access, default


def _ordered(entries: dict[str, str]) -> list[str]:
    def rank(key: str) -> tuple[int, str]:
        kind, ident = key.split(":", 1)
        order = {"user": 0, "group": 2, "mask": 4, "other": 5}[kind]
        return (order + (1 if ident and kind in ("user", "group") else 0), ident)

    return [f"{k}:{entries[k]}" for k in sorted(entries, key=rank)]


@dataclass
class Node:
    is_dir: bool
    access: dict[str, str]
    default: dict[str, str] = field(default_factory=dict)
    data: bytes = b""
    pending: bytearray = field(default_factory=bytearray)
    etag: str = field(default_factory=_etag)
    modified: str = field(default_factory=_now)
    owner: str = "$superuser"
    group: str = "$superuser"

    def acl(self) -> str:
        return ",".join(_ordered(self.access) + [f"default:{e}" for e in _ordered(self.default)])

    def permissions(self) -> str:
        group = self.access.get("mask:", self.access.get("group:", "---"))
        extended = any(k not in BASE for k in self.access) or bool(self.default)
        bits = self.access.get("user:", "---") + group + self.access.get("other:", "---")
        return bits + ("+" if extended else "")


@dataclass
class FileSystem:
    name: str
    paths: dict[str, Node] = field(default_factory=dict)  # "" is the root directory
    etag: str = field(default_factory=_etag)
    modified: str = field(default_factory=_now)


@dataclass
class DataLakeAccount:
    name: str
    hns: bool
    filesystems: dict[str, FileSystem] = field(default_factory=dict)


@dataclass
class FakeDataLake:
    server: FakeAzure
    entra: FakeEntra
    accounts: dict[str, DataLakeAccount] = field(default_factory=dict)
    authorize: Callable[[Request, str], Response | None] | None = None
    """RBAC, when wired (`cloud`): the refusal a request on an account meets, or None."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def start(cls, tmp: Path, ca: trustme.CA, entra: FakeEntra) -> FakeDataLake:
        lake = cls(FakeAzure(tmp, ca), entra)
        methods = ("GET", "PUT", "PATCH", "HEAD", "DELETE")
        for method in methods:
            lake.server.route(method, r"/(?P<acct>[^/]+)/?", lake._guard(lake._account))
            lake.server.route(method, r"/(?P<acct>[^/]+)/(?P<fs>[^/]+)/?",
                              lake._guard(lake._filesystem))
            lake.server.route(method, r"/(?P<acct>[^/]+)/(?P<fs>[^/]+)/(?P<path>.+)",
                              lake._guard(lake._path))
        lake.server.start()
        return lake

    def add_account(self, name: str, hns: bool) -> None:
        with self._lock:
            self.accounts[name] = DataLakeAccount(name, hns)

    def remove_account(self, name: str) -> None:
        with self._lock:
            self.accounts.pop(name, None)

    def node(self, account: str, fs: str, path: str) -> Node:
        return self.accounts[account].filesystems[fs].paths[path.strip("/")]

    def effective(self, account: str, fs: str, path: str, user: str) -> str:
        """What a named user may do on `path`: its entry capped by the mask."""
        node = self.node(account, fs, path)
        perms = node.access.get(f"user:{user}", "---")
        mask = node.access.get("mask:", "rwx")
        return "".join(p if p == m != "-" else "-" for p, m in zip(perms, mask, strict=True))

    # --- the front door -------------------------------------------------------------------

    def _guard(self, handler: Any) -> Any:
        def guarded(request: Request, match: re.Match[str]) -> Response:
            audience = self.entra.audience_of(request)
            if audience is None:
                return dfs_error(401, "NoAuthenticationInformation",
                                  "Server failed to authenticate the request. Please refer to "
                                  "the information in the www-authenticate header.")
            if audience.rstrip("/") != STORAGE_AUDIENCE:
                return dfs_error(401, "InvalidAuthenticationInfo",
                                  "Server failed to authenticate the request. Audience "
                                  "validation failed.")
            if not request.header("x-ms-version"):
                return dfs_error(400, "MissingRequiredHeader",
                                  "An HTTP header that's mandatory for this request is not "
                                  "specified: x-ms-version.")
            refused = self.authorize(request, match["acct"]) if self.authorize else None
            if refused is not None:
                return refused
            with self._lock:
                account = self.accounts.get(match["acct"])
                if account is None:
                    return dfs_error(404, "ResourceNotFound",
                                      "The specified resource does not exist.")
                return handler(request, match, account)  # type: ignore[no-any-return]

        return guarded

    # --- account level: list containers ---------------------------------------------------

    def _account(self, request: Request, match: re.Match[str], account: DataLakeAccount
                 ) -> Response:
        if request.method != "GET" or request.query.get("comp") != "list":
            return _blob_error(400, "UnsupportedHttpVerb", "Unsupported account operation.")
        rows = "".join(
            f"<Container><Name>{escape(fs.name)}</Name><Properties>"
            f"<Last-Modified>{fs.modified}</Last-Modified><Etag>{escape(fs.etag)}</Etag>"
            "<LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState>"
            "<HasImmutabilityPolicy>false</HasImmutabilityPolicy>"
            "<HasLegalHold>false</HasLegalHold></Properties></Container>"
            for fs in sorted(account.filesystems.values(), key=lambda f: f.name)
        )
        xml = ('<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint='
               f'"{self.server.url}/{account.name}/"><Containers>{rows}</Containers>'
               "<NextMarker /></EnumerationResults>")
        return Response(200, xml.encode(), {"Content-Type": "application/xml"})

    # --- file system level ----------------------------------------------------------------

    def _filesystem(self, request: Request, match: re.Match[str], account: DataLakeAccount
                    ) -> Response:
        name, q = match["fs"], request.query
        fs = account.filesystems.get(name)
        if q.get("action") in ("getAccessControl", "setAccessControl",
                               "setAccessControlRecursive") or (q.get("resource") == "filesystem" \
                and request.method == "GET"):
            if fs is None:
                return dfs_error(404, "FilesystemNotFound", "The specified filesystem does "
                                  "not exist.")
            return self._on_path(request, account, fs, "")
        if q.get("restype") != "container" and q.get("resource") != "filesystem":
            return _blob_error(400, "InvalidQueryParameterValue", "restype is required.")
        if request.method == "PUT":
            if fs is not None:
                return _blob_error(409, "ContainerAlreadyExists",
                                   "The specified container already exists.")
            fs = account.filesystems[name] = FileSystem(name)
            fs.paths[""] = Node(True, {"user:": "rwx", "group:": "r-x", "other:": "---"})
            return Response(201, None, {"ETag": fs.etag, "Last-Modified": fs.modified})
        if fs is None:
            return _blob_error(404, "ContainerNotFound", "The specified container does not "
                               "exist.")
        if request.method == "DELETE":
            del account.filesystems[name]
            return Response(202)
        headers = {"ETag": fs.etag, "Last-Modified": fs.modified, "x-ms-lease-status": "unlocked",
                   "x-ms-lease-state": "available", "x-ms-has-immutability-policy": "false",
                   "x-ms-has-legal-hold": "false"}
        return Response(200, None, headers)

    # --- path level -----------------------------------------------------------------------

    def _path(self, request: Request, match: re.Match[str], account: DataLakeAccount
              ) -> Response:
        fs = account.filesystems.get(match["fs"])
        if fs is None:
            return dfs_error(404, "FilesystemNotFound", "The specified filesystem does not "
                              "exist.")
        return self._on_path(request, account, fs, unquote(match["path"]).strip("/"))

    def _on_path(self, request: Request, account: DataLakeAccount, fs: FileSystem, path: str
                 ) -> Response:
        q, method = request.query, request.method
        node = fs.paths.get(path)
        action = q.get("action", "")
        if action in ("getAccessControl", "setAccessControl", "setAccessControlRecursive") \
                and not account.hns:
            return dfs_error(409, "HierarchicalNamespaceNotEnabled",
                              "This operation is only supported on a hierarchical namespace "
                              "account.")
        if method == "PUT" and q.get("resource") in ("file", "directory"):
            return self._create(request, fs, path, q["resource"] == "directory")
        if method == "GET" and q.get("resource") == "filesystem":
            return self._list(request, fs)
        if node is None:
            return dfs_error(404, "PathNotFound", "The specified path does not exist.")
        if method == "PATCH" and action == "append":
            return self._append(request, node)
        if method == "PATCH" and action == "flush":
            return self._flush(request, node)
        if method == "HEAD" and action == "getAccessControl":
            return Response(200, None, self._acl_headers(node))
        if method == "PATCH" and action == "setAccessControl":
            return self._set_acl(request, node)
        if method == "PATCH" and action == "setAccessControlRecursive":
            return self._set_acl_recursive(request, fs, path)
        if method == "DELETE":
            return self._delete(request, fs, path, node)
        if method == "HEAD":
            return Response(200, None, self._blob_headers(node))
        if method == "GET":
            return self._download(request, node)
        return dfs_error(400, "UnsupportedOperation", f"{method} {action} is not supported.")

    def _create(self, request: Request, fs: FileSystem, path: str, is_dir: bool) -> Response:
        existing = fs.paths.get(path)
        if existing is not None and request.header("if-none-match") == "*":
            return dfs_error(409, "PathAlreadyExists", "The specified path already exists.")
        if existing is not None and existing.is_dir != is_dir:
            return dfs_error(409, "PathConflict", "The specified path, or an element of the "
                              "path, exists and its resource type is invalid for this operation.")
        parent = ""
        for part in path.split("/")[:-1]:  # intermediate directories come into being
            parent = f"{parent}/{part}".strip("/")
            if parent not in fs.paths:
                fs.paths[parent] = self._inherit(fs, parent, True)
        node = self._inherit(fs, path, is_dir)
        fs.paths[path] = node
        return Response(201, None, {"ETag": node.etag, "Last-Modified": node.modified,
                                    "Content-Length": "0"})

    def _inherit(self, fs: FileSystem, path: str, is_dir: bool) -> Node:
        parent = fs.paths.get(path.rpartition("/")[0], fs.paths[""])
        base = {"user:": "rwx" if is_dir else "rw-", "group:": "r-x" if is_dir else "r--",
                "other:": "---"}
        access = {**base, **parent.default} if parent.default else base
        return Node(is_dir, access, dict(parent.default) if is_dir else {})

    def _append(self, request: Request, node: Node) -> Response:
        position = int(request.query.get("position", "-1"))
        if node.is_dir:
            return dfs_error(400, "InvalidOperation", "Append is not supported on a "
                              "directory.")
        if position != len(node.data) + len(node.pending):
            return dfs_error(400, "InvalidFlushPosition",
                              "The uploaded data is not contiguous or the position query "
                              "parameter value is not equal to the length of the file after "
                              "appending the uploaded data.")
        node.pending.extend(request.body)
        return Response(202)

    def _flush(self, request: Request, node: Node) -> Response:
        if_match = request.header("if-match")
        if if_match and if_match != node.etag:
            return dfs_error(412, "ConditionNotMet", "The condition specified using HTTP "
                              "conditional header(s) is not met.")
        position = int(request.query.get("position", "-1"))
        if position != len(node.data) + len(node.pending):
            return dfs_error(400, "InvalidFlushPosition",
                              "The uploaded data is not contiguous or the position query "
                              "parameter value is not equal to the length of the file after "
                              "appending the uploaded data.")
        node.data, node.pending = node.data + bytes(node.pending), bytearray()
        node.etag, node.modified = _etag(), _now()
        return Response(200, None, {"ETag": node.etag, "Last-Modified": node.modified,
                                    "Content-Length": "0"})

    def _list(self, request: Request, fs: FileSystem) -> Response:
        q = request.query
        recursive = q.get("recursive", "false").lower() == "true"
        under = (q.get("directory") or "").strip("/")
        if under and under not in fs.paths:
            return dfs_error(404, "PathNotFound", "The specified path does not exist.")
        prefix = f"{under}/" if under else ""
        names = sorted(p for p in fs.paths if p and p.startswith(prefix)
                       and (recursive or "/" not in p[len(prefix):]))
        start = int(q.get("continuation") or 0)
        size = int(q.get("maxResults") or 5000)
        rows = []
        for name in names[start : start + size]:
            node = fs.paths[name]
            row = {"name": name, "contentLength": str(len(node.data)), "etag": node.etag,
                   "lastModified": node.modified, "owner": node.owner, "group": node.group,
                   "permissions": node.permissions().rstrip("+")}
            if node.is_dir:
                row["isDirectory"] = "true"
            rows.append(row)
        headers = {}
        if start + size < len(names):
            headers["x-ms-continuation"] = str(start + size)
        return Response(200, {"paths": rows}, headers)

    def _acl_headers(self, node: Node) -> dict[str, str]:
        return {"x-ms-owner": node.owner, "x-ms-group": node.group,
                "x-ms-permissions": node.permissions(), "x-ms-acl": node.acl(),
                "ETag": node.etag, "Last-Modified": node.modified}

    def _set_acl(self, request: Request, node: Node) -> Response:
        try:
            access, default = parse_acl(request.header("x-ms-acl"))
        except ValueError:
            return _invalid_acl()
        if request.header("x-ms-acl"):
            if not all(k in access for k in BASE) or (default and not node.is_dir):
                return _invalid_acl()
            node.access, node.default = access, default
        if request.header("x-ms-owner"):
            node.owner = request.header("x-ms-owner")
        if request.header("x-ms-group"):
            node.group = request.header("x-ms-group")
        node.etag, node.modified = _etag(), _now()
        return Response(200, None, {"ETag": node.etag, "Last-Modified": node.modified})

    def _set_acl_recursive(self, request: Request, fs: FileSystem, path: str) -> Response:
        mode = request.query.get("mode", "")
        if mode not in ("set", "modify", "remove"):
            return dfs_error(400, "InvalidQueryParameterValue", "mode must be set, modify or "
                              "remove.")
        try:
            access, default = parse_acl(request.header("x-ms-acl"))
        except ValueError:
            return _invalid_acl()
        if mode == "set" and not all(k in access for k in BASE):
            return _invalid_acl()
        prefix = f"{path}/" if path else ""
        below = sorted(p for p in fs.paths if p and p.startswith(prefix) and p != path)
        targets = [path, *below]
        start = int(request.query.get("continuation") or 0)
        size = int(request.query.get("maxRecords") or 2000)
        dirs = files = 0
        for name in targets[start : start + size]:
            node = fs.paths[name]
            _apply(node, mode, access, default if node.is_dir else {})
            node.etag = _etag()
            dirs, files = (dirs + 1, files) if node.is_dir else (dirs, files + 1)
        headers = {}
        if start + size < len(targets):
            headers["x-ms-continuation"] = str(start + size)
        body = {"directoriesSuccessful": dirs, "filesSuccessful": files, "failureCount": 0,
                "failedEntries": []}
        return Response(200, body, headers)

    def _delete(self, request: Request, fs: FileSystem, path: str, node: Node) -> Response:
        children = [p for p in fs.paths if p.startswith(f"{path}/")]
        if children and request.query.get("recursive", "").lower() != "true":
            return dfs_error(409, "DirectoryNotEmpty", "The recursive query parameter value "
                              "must be true to delete a non-empty directory.")
        for name in [*children, path]:
            fs.paths.pop(name, None)
        return Response(200)

    def _blob_headers(self, node: Node) -> dict[str, str]:
        headers = {"ETag": node.etag, "Last-Modified": node.modified,
                   "x-ms-blob-type": "BlockBlob", "Content-Length": str(len(node.data)),
                   "Content-Type": "application/octet-stream", "Accept-Ranges": "bytes",
                   "x-ms-creation-time": node.modified, "x-ms-lease-status": "unlocked",
                   "x-ms-lease-state": "available", "x-ms-server-encrypted": "true"}
        if node.is_dir:
            headers["x-ms-meta-hdi_isfolder"] = "true"
        return headers

    def _download(self, request: Request, node: Node) -> Response:
        if node.is_dir:
            return _blob_error(400, "InvalidOperation", "A directory cannot be downloaded.")
        data, headers = node.data, self._blob_headers(node)
        wanted = request.header("x-ms-range") or request.header("range")
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", wanted) if wanted else None
        if m is None:
            return Response(200, data, headers)
        first = int(m[1])
        last = min(int(m[2]) if m[2] else len(data) - 1, len(data) - 1)
        if first >= len(data):
            return _blob_error(416, "InvalidRange", "The range specified is invalid for the "
                               "current size of the resource.")
        body = data[first : last + 1]
        headers.update({"Content-Range": f"bytes {first}-{last}/{len(data)}",
                        "Content-Length": str(len(body))})
        return Response(206, body, headers)


def _apply(node: Node, mode: str, access: dict[str, str], default: dict[str, str]) -> None:
    if mode == "set":
        node.access, node.default = dict(access), dict(default)
        return
    for target, change in ((node.access, access), (node.default, default)):
        if mode == "remove":
            for key in change:
                if key not in BASE:
                    target.pop(key, None)
            continue
        named = [k for k in change if k not in BASE and k != "mask:"]
        target.update(change)
        if named and "mask:" not in target:
            group_class = [v for k, v in target.items() if k.startswith("group:") or
                           (k.startswith("user:") and k != "user:")]
            target["mask:"] = "".join(
                c if any(p[i] == c for p in group_class) else "-" for i, c in enumerate("rwx"))


def _invalid_acl() -> Response:
    return dfs_error(400, "InvalidAccessControlList",
                      "The access control list value is invalid.")


def dfs_error(status: int, code: str, message: str) -> Response:
    body = {"error": {"code": code, "message": f"{message}\nRequestId:{uuid.uuid4()}"}}
    return Response(status, json.dumps(body).encode(),
                    {"x-ms-error-code": code, "Content-Type": "application/json;charset=utf-8"})


def _blob_error(status: int, code: str, message: str) -> Response:
    xml = (f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code>'
           f"<Message>{escape(message)}\nRequestId:{uuid.uuid4()}</Message></Error>")
    return Response(status, xml.encode(),
                    {"x-ms-error-code": code, "Content-Type": "application/xml"})
