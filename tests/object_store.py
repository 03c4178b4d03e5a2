"""An S3 API on loopback for the tests: moto's server on 127.0.0.1 at an ephemeral port, reached through the
environment a real deployment uses (``AWS_ENDPOINT_URL`` and the AWS key variables), nothing outside the machine."""
from __future__ import annotations

import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

#: Seen by the server only; a test asserts it never appears in a command's output.
SECRET = "sEcReT-never-logged-7f3a9c"


@dataclass(frozen=True)
class BucketShards:
    """A shard run into a bucket: its manifest and shard URLs, and everything the command printed."""

    manifests: str
    out: str
    output: str


@dataclass(frozen=True)
class ObjectStore:
    endpoint: str

    @property
    def env(self) -> dict[str, str]:
        """What a process (a command, a Dask worker) needs to reach the store: the standard AWS variables, and
        no config or credentials file of the machine's."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": "testing-key-id",
                "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_CONFIG_FILE": "/nonexistent/aws-config", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-creds",
                "AWS_EC2_METADATA_DISABLED": "true"}

    def client(self):
        """A boto3-free client: s3fs with the endpoint given explicitly (independent of the code under test)."""
        import s3fs

        return s3fs.S3FileSystem(endpoint_url=self.endpoint, key="testing-key-id", secret=SECRET,
                                 skip_instance_cache=True)

    def bucket(self, prefix: str = "test") -> str:
        """A new, empty bucket: ``s3://<name>``."""
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.client().mkdir(name)
        return f"s3://{name}"

    def upload(self, folder: Path, url: str) -> None:
        """Every file under ``folder`` to ``url`` (same relative names)."""
        client = self.client()
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            client.pipe_file(f"{url.removeprefix('s3://')}/{path.relative_to(folder).as_posix()}", path.read_bytes())

    def objects(self, url: str) -> dict[str, bytes]:
        """Relative key → bytes of every object under ``url``."""
        client = self.client()
        root = url.removeprefix("s3://").rstrip("/")
        return {key[len(root) + 1:]: client.cat_file(key) for key in sorted(client.find(root))}


def local_files(folder: Path) -> dict[str, bytes]:
    """Relative path → bytes of every file under ``folder`` (what a bucket prefix is compared with)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def closed_port() -> int:
    """A loopback port nothing listens on (an unreachable endpoint that answers at once with a refusal)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
