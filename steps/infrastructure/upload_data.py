"""The `upload-data` step: AdultCensusIncome.csv into the `datalake` file system."""

from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from labtui_steps import census
from labtui_steps.fields import (
    DATA_FILE,
    DATA_URL,
    PREFIX,
    STORAGE_ACCOUNT,
)
from labtui_steps.infrastructure import records
from labtui_steps.infrastructure.common import (
    DOWNLOAD_TIMEOUT,
    FILE_SYSTEM,
    InfrastructureStep,
    check_that,
)

from labtui.step import (
    Change,
    Check,
    StepContext,
    StepError,
    Verdict,
)
from labtui.targets.base import (
    NotFound,
)


class UploadData(InfrastructureStep):
    """AdultCensusIncome.csv into the `datalake` file system."""

    id = "upload-data"
    place = 6
    title = "Add the initial data to the data lake"
    summary = "Upload AdultCensusIncome.csv to the 'datalake' file system."
    requires = ("data-lake",)
    inputs = (PREFIX, STORAGE_ACCOUNT, DATA_FILE, DATA_URL)

    def run(self, ctx: StepContext) -> None:
        account, lake = ctx.value("storage-account"), ctx.target.datalake
        source, origin = self._source(ctx)
        try:
            data = source.read_bytes()
        except OSError as exc:  # a failing disk: name the file, which the error does not
            from labtui.faults import describe_os_error

            raise StepError(f"{source} cannot be read: {describe_os_error(exc)}"
                            ) from None
        header, rows = census.describe(data)
        problem = census.header_problem(header)
        if problem:
            raise StepError(f"{origin} is not the lab's {census.FILE_NAME}: {problem}")
        endpoint = lake.dfs_endpoint(account)
        exists = any(f.path == census.FILE_NAME for f in lake.list_files(endpoint, FILE_SYSTEM))
        if not exists:
            ctx.journal.record_once(records.DatalakeFile(
                census.FILE_NAME, account=endpoint, file_system=FILE_SYSTEM))
        ctx.log(f"upload {census.FILE_NAME} ({rows:,} rows, from {origin})")
        lake.upload(endpoint, FILE_SYSTEM, census.FILE_NAME, source)
        ctx.outputs.set("rows", str(rows))
        ctx.outputs.set("source", origin)

    def _source(self, ctx: StepContext) -> tuple[Path, str]:
        """The file to upload: data-file, else a download, else a generated sample."""
        given = ctx.values.get("data-file", "").strip()
        if given:
            path = Path(given).expanduser()
            if not path.is_file():
                raise StepError(f"data-file {path} does not exist or is not a file")
            return path, str(path)
        url = ctx.value("data-url")
        download = ctx.artifacts / census.FILE_NAME
        partial = download.with_name(download.name + ".part")
        try:
            ctx.log(f"download {url}")
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response, \
                    open(partial, "wb") as out:
                shutil.copyfileobj(response, out, 1 << 20)
            os.replace(partial, download)
            header, _ = census.describe(download.read_bytes()[:4096])
            problem = census.header_problem(header)
            if problem is None:
                return download, url
            ctx.log.warn(f"{url} did not return the lab's file ({problem})")
        except (OSError, ValueError) as exc:
            partial.unlink(missing_ok=True)
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            ctx.log.warn(f"cannot download {url} ({reason})")
        sample = ctx.artifacts / f"sample-{census.FILE_NAME}"
        census.write_sample(sample)
        ctx.log.warn(f"using a generated sample of {census.SAMPLE_ROWS:,} rows with the lab "
                     "file's columns (give data-file to use the real file)")
        return sample, "a generated sample"

    def verify(self, ctx: StepContext) -> Verdict:
        lake = ctx.target.datalake
        endpoint = lake.dfs_endpoint(ctx.value("storage-account"))
        try:
            data = lake.read(endpoint, FILE_SYSTEM, census.FILE_NAME)
        except NotFound:
            return Verdict.of(Check("file", False, f"{census.FILE_NAME} is not in "
                                    f"{lake.uri(endpoint, FILE_SYSTEM)}",
                                    "run this step to upload it"))
        header, rows = census.describe(data)
        expected = ctx.outputs.get("rows")
        if expected is None:
            count_problem: str | None = "no upload of this file is recorded"
        elif str(rows) != expected:
            count_problem = f"the file has {rows:,} rows, {int(expected):,} were uploaded"
        else:
            count_problem = None
        return Verdict.of(
            Check("file", True),
            check_that("header", census.header_problem(header), "run this step again"),
            check_that("rows", count_problem, "run this step again to upload it"),
        )


    def plan(self, ctx: StepContext) -> list[Change]:
        return self._plan(ctx, forced=False)

    def forced_plan(self, ctx: StepContext) -> list[Change]:
        return self._plan(ctx, forced=True)  # a forced run uploads the file again

    def _plan(self, ctx: StepContext, *, forced: bool) -> list[Change]:
        account, lake = ctx.value("storage-account"), ctx.target.datalake
        ref = f"{account}/{FILE_SYSTEM}/{census.FILE_NAME}"
        if not forced and self.verify(ctx).ok:
            return [Change("keep", "data lake file", ref, f"{ctx.outputs.get('rows')} rows")]
        given = ctx.values.get("data-file", "").strip()
        source = given or f"{ctx.value('data-url')} (offline: a generated sample)"
        try:
            exists = any(f.path == census.FILE_NAME
                         for f in lake.list_files(lake.dfs_endpoint(account), FILE_SYSTEM))
        except NotFound:
            exists = False
        return [Change("change" if exists else "create", "data lake file", ref,
                       f"uploaded from {source}")]
