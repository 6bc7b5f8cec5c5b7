"""Run artifacts in the shared store: the files of one run (``report.json``, ``trajectory.jsonl``, each
attempt's ``prompt.json`` and ``patch.diff`` …) by run id and name, written by the worker that ran the job
and read by the run page and training on any host.

:class:`LedgerArtifacts` (the default) keeps them in the ledger's database (table ``artifacts``);
:class:`S3Artifacts` in an S3-compatible bucket when ``REPOMIND_ARTIFACTS_URL=s3://bucket/prefix``.
The fake is :class:`repomind.testing.MemoryArtifacts`. :func:`open_artifacts` chooses from settings.

A run id and a name are checked (:func:`check_key`): a run id is one plain path segment, a name a relative
path of plain segments, so neither can reach another run's files or anything outside the prefix.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlparse

from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError

from repomind.errors import ConfigError, RepomindError
from repomind.store.ledger import Ledger
from repomind.store.models import Artifact

if TYPE_CHECKING:
    from repomind.settings import Settings

_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
#: Longest name kept (the column's length).
MAX_NAME = 300


class ArtifactsError(RepomindError):
    """The artifacts store could not keep or give back a file (database or bucket unreachable …)."""


class Artifacts(Protocol):
    def put(self, run_id: str, name: str, data: bytes) -> None: ...

    def get(self, run_id: str, name: str) -> bytes | None: ...

    def names(self, run_id: str) -> list[str]: ...

    def delete_run(self, run_id: str) -> int:
        """Delete every file of the run; how many there were."""
        ...


def valid_run_id(run_id: str) -> bool:
    return bool(_SEGMENT.fullmatch(run_id)) and ".." not in run_id


def valid_name(name: str) -> bool:
    parts = name.split("/")
    return len(name) <= MAX_NAME and all(_SEGMENT.fullmatch(p) and ".." not in p for p in parts)


def check_key(run_id: str, name: str | None = None) -> None:
    """ValueError unless ``run_id`` is a plain run id and ``name`` a relative path of plain segments."""
    if not valid_run_id(run_id):
        raise ValueError(f"not a run id: {run_id[:120]!r}")
    if name is not None and not valid_name(name):
        raise ValueError(f"not an artifact name: {name[:120]!r}")


class LedgerArtifacts:
    """Artifacts in the ledger's database (SQLite on one machine, PostgreSQL across hosts)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def put(self, run_id: str, name: str, data: bytes) -> None:
        check_key(run_id, name)
        try:
            with self.ledger.session() as s:  # replace: the trajectory is put again as it grows
                s.execute(delete(Artifact).where(Artifact.run_id == run_id, Artifact.name == name))
                s.add(Artifact(run_id=run_id, name=name, data=bytes(data)))
        except SQLAlchemyError as exc:
            raise ArtifactsError(f"cannot keep {run_id}/{name} in the ledger: {exc}") from exc

    def get(self, run_id: str, name: str) -> bytes | None:
        if not (valid_run_id(run_id) and valid_name(name)):
            return None
        with self.ledger.reading() as s:
            row = s.scalar(select(Artifact.data).where(Artifact.run_id == run_id, Artifact.name == name))
        return bytes(row) if row is not None else None

    def names(self, run_id: str) -> list[str]:
        if not valid_run_id(run_id):
            return []
        with self.ledger.reading() as s:
            return sorted(s.scalars(select(Artifact.name).where(Artifact.run_id == run_id)).all())

    def delete_run(self, run_id: str) -> int:
        if not valid_run_id(run_id):
            return 0
        try:
            with self.ledger.session() as s:
                gone = s.execute(delete(Artifact).where(Artifact.run_id == run_id))
        except SQLAlchemyError as exc:
            raise ArtifactsError(f"cannot delete {run_id} from the ledger: {exc}") from exc
        return int(gone.rowcount)  # type: ignore[attr-defined]


class S3Artifacts:
    """Artifacts as objects ``prefix/run_id/name`` in an S3-compatible bucket (boto3)."""

    def __init__(self, bucket: str, prefix: str = "", *, client: Any) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client

    @classmethod
    def from_url(cls, url: str, *, endpoint_url: str | None = None) -> S3Artifacts:
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ConfigError(f"REPOMIND_ARTIFACTS_URL must be s3://bucket/prefix, not {url!r}")
        try:
            import boto3
        except ImportError as exc:
            raise ConfigError("REPOMIND_ARTIFACTS_URL needs boto3: pip install 'repomind[s3]'") from exc
        client = boto3.client("s3", endpoint_url=endpoint_url)
        return cls(parsed.netloc, parsed.path, client=client)

    def _key(self, run_id: str, name: str = "") -> str:
        return "/".join(p for p in (self.prefix, run_id, name) if p)

    def put(self, run_id: str, name: str, data: bytes) -> None:
        check_key(run_id, name)
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(run_id, name), Body=bytes(data))
        except (BotoCoreError, ClientError) as exc:
            raise ArtifactsError(f"cannot keep {run_id}/{name} in s3://{self.bucket}: {exc}") from exc

    def get(self, run_id: str, name: str) -> bytes | None:
        if not (valid_run_id(run_id) and valid_name(name)):
            return None
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._key(run_id, name))
            body: bytes = answer["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise ArtifactsError(f"cannot read {run_id}/{name} from s3://{self.bucket}: {exc}") from exc
        except BotoCoreError as exc:
            raise ArtifactsError(f"cannot read {run_id}/{name} from s3://{self.bucket}: {exc}") from exc
        return body

    def names(self, run_id: str) -> list[str]:
        if not valid_run_id(run_id):
            return []
        from botocore.exceptions import BotoCoreError, ClientError

        start = self._key(run_id) + "/"
        found: list[str] = []
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=start)
        try:
            for page in pages:
                found += [item["Key"][len(start) :] for item in page.get("Contents", [])]
        except (BotoCoreError, ClientError) as exc:
            raise ArtifactsError(f"cannot list {run_id} in s3://{self.bucket}: {exc}") from exc
        return sorted(found)

    def delete_run(self, run_id: str) -> int:
        names = self.names(run_id)
        from botocore.exceptions import BotoCoreError, ClientError

        for start in range(0, len(names), 1000):  # DeleteObjects takes at most 1,000 keys
            keys = [{"Key": self._key(run_id, n)} for n in names[start : start + 1000]]
            try:
                answer = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True}
                )
            except (BotoCoreError, ClientError) as exc:
                raise ArtifactsError(f"cannot delete {run_id} from s3://{self.bucket}: {exc}") from exc
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise ArtifactsError(
                    f"cannot delete {first.get('Key')} from s3://{self.bucket}: {first.get('Message')}"
                )
        return len(names)


def open_artifacts(settings: Settings, ledger: Ledger) -> Artifacts:
    """The artifacts store the settings name: a bucket for ``s3://…``, else the ledger's database."""
    if settings.artifacts_url:
        return S3Artifacts.from_url(settings.artifacts_url, endpoint_url=settings.artifacts_endpoint_url)
    return LedgerArtifacts(ledger)


def text_of(artifacts: Artifacts, run_id: str, name: str) -> str | None:
    """A stored file as text (undecodable bytes replaced); None when there is none."""
    data = artifacts.get(run_id, name)
    return data.decode("utf-8", errors="replace") if data is not None else None
