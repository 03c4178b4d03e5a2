"""Where shards and manifests live: a local folder, or a URL of any fsspec file system (``s3://``, ``gs://``, …).

A *location* is a :class:`~pathlib.Path` (a local file or folder; a ``file://`` URL becomes one) or a URL
string. Local paths keep the project's own file handling (writes under a temporary name renamed into place,
plain ``open``), so a local run writes what it always wrote. URLs go through fsspec, whose backend (s3fs for
``s3://``: the ``s3`` extra) finds credentials the standard way: AWS's environment variables and ``~/.aws``
files, ``AWS_ENDPOINT_URL`` for S3-compatible stores (MinIO, Ceph). ``params.yaml``'s ``storage`` section
adds fsspec options by URL scheme (an endpoint, a profile); credentials are refused there.

Object stores have no rename, so nothing is stored under a temporary name there: an object is uploaded
whole (one PUT, or a multipart upload the store completes at once), and a reader sees the old object, the
new one or none. The first use of a bucket in a process asks the store for it, so a wrong endpoint, a
missing bucket or missing credentials end a command with one line instead of a traceback or a hang.
"""
from __future__ import annotations

import copy
import difflib
import inspect
import io
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO, TypeVar, cast
from urllib.parse import urlparse
from urllib.request import url2pathname

import pandas as pd

from .errors import UsageError
from .io import TEMPORARY_GLOB, json_text, temporary_path, write_bytes_atomic, write_parquet_atomic
from .params import suggestion

T = TypeVar("T")

log = logging.getLogger(__name__)

#: A local path, or the URL of an fsspec file system (never a local path as a string: see :func:`as_location`).
Location = Path | str

URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
#: Under every other setting: a wrong endpoint fails in seconds, not after botocore's minutes of retries; and
#: no listing is cached, since other processes (Dask workers, an earlier run) write the objects listed.
DEFAULTS: dict[str, dict[str, Any]] = {
    "s3": {"config_kwargs": {"connect_timeout": 5, "read_timeout": 60,
                             "retries": {"mode": "standard", "max_attempts": 3}},
           "use_listings_cache": False},
}
#: Options every fsspec file system takes besides its own (its listing cache, its instance cache), and those
#: a backend hands on to its client (s3fs: the AWS session's profile).
GENERIC_OPTIONS = {"use_listings_cache", "listings_expiry_time", "max_paths", "skip_instance_cache"}
PASSED_ON = {"s3": {"profile"}, "s3a": {"profile"}}
#: A streamed object (a shard tar, read front to back) is fetched in pieces of this size, the next one in the
#: background while the current one is read (fsspec's "background" cache, two pieces held at most).
STREAM_BLOCK = 8 * 2**20
#: Option names that hold credentials: never taken from a params file (it is committed, and DVC logs it).
SECRET = re.compile(r"(^|_)(key|secret|token|password|credentials?|passphrase)($|_)|sas|connection_string",
                    re.IGNORECASE)

_configured: dict[str, dict[str, Any]] = {}
_reachable: set[tuple[str, str]] = set()
#: Every file system this process opened, kept for its lifetime. A forked child (a DataLoader worker) inherits
#: them with their pooled connections, and fsspec drops them from its cache there; freed in the child, an
#: instance's connection pool would close those connections through the parent's event loop, whose epoll the
#: child shares, and so take the parent's sockets off it: the parent's next request on a pooled connection then
#: waits out the read timeout (60 s). Only stores that keep connections alive show it (AWS, MinIO, SeaweedFS);
#: the children open their own file systems and end without freeing anything.
_opened: dict[int, Any] = {}


def as_location(text: str | Path) -> Location:
    """A command line's or a params file's path: a URL stays a string (``file://`` becomes a Path), anything
    else is a local Path."""
    if isinstance(text, Path):
        return text
    match = URL.match(text)
    if match is None:
        return Path(text)
    if match.group(1).lower() == "file":
        return Path(url2pathname(urlparse(text).path))
    return text.rstrip("/")


def is_url(location: str | Path) -> bool:
    return isinstance(as_location(location), str)


def local_folder(text: str) -> Path:
    """An argparse type for outputs that stay on this machine (checkpoints, evaluation reports, the report)."""
    location = as_location(text)
    if isinstance(location, str):
        import argparse

        raise argparse.ArgumentTypeError(f"{text}: a local folder is needed here (only shards and manifests go to "
                                         "a store)")
    return location


def join(location: str | Path, *names: str) -> Location:
    """``location / name / …``, for a folder or a URL prefix."""
    base = as_location(location)
    if isinstance(base, Path):
        return base.joinpath(*names)
    return "/".join([base, *names])


def name_of(location: str | Path) -> str:
    base = as_location(location)
    return base.name if isinstance(base, Path) else base.rsplit("/", 1)[-1]


def absolute(location: str | Path) -> str:
    """The location as every worker of a cluster can name it: an absolute path, or the URL."""
    base = as_location(location)
    return str(base.resolve()) if isinstance(base, Path) else base


# -- settings ----------------------------------------------------------------------------------------
def configure(section: Mapping[str, Any] | None, source: object = "params.yaml") -> None:
    """Take ``params.yaml``'s ``storage`` section: fsspec options by URL scheme (``s3: {endpoint_url: …}``).

    Null settings are dropped; a credential is refused, naming the standard place for it. The options are
    checked against the backend's own parameters when the scheme is first used (so a params file that sets
    up ``s3`` does not need s3fs installed for local work).
    """
    from fsspec.registry import known_implementations, registry

    _configured.clear()
    for scheme, options in (section or {}).items():
        if scheme not in known_implementations and scheme not in registry:
            close = difflib.get_close_matches(str(scheme), sorted(known_implementations), n=1, cutoff=0.5)
            raise UsageError(f"{source}: storage.{scheme} is not a URL scheme fsspec knows"
                             + (f"; did you mean storage.{close[0]}?" if close else ""))
        if not isinstance(options, Mapping):
            raise UsageError(f"{source}: storage.{scheme} must be a mapping of fsspec options")
        kept = {key: value for key, value in options.items() if value is not None}
        for key in _secret_keys(kept):
            raise UsageError(f"{source}: storage.{scheme}.{key} is a credential, and credentials never go in params "
                             "files: give them the standard way on every machine (for S3: AWS_ACCESS_KEY_ID and "
                             "AWS_SECRET_ACCESS_KEY in the environment, or ~/.aws/credentials and AWS_PROFILE)")
        if kept:
            _configured[str(scheme)] = {"options": kept, "source": str(source), "checked": False}


def configured() -> dict[str, dict[str, Any]]:
    """The options :func:`configure` took, to hand to other processes (Dask workers, DataLoader workers)."""
    return {scheme: dict(entry["options"]) for scheme, entry in _configured.items()}


def use_configuration(options: Mapping[str, Mapping[str, Any]]) -> None:
    """In a worker process: the options of the process that started the work (see :func:`configured`)."""
    if options != configured():
        configure(options, source="the storage settings handed to this worker")


def _secret_keys(options: Mapping[str, Any], prefix: str = "") -> Iterable[str]:
    for key, value in options.items():
        if SECRET.search(str(key)):
            yield prefix + str(key)
        elif isinstance(value, Mapping):
            yield from _secret_keys(value, f"{prefix}{key}.")


def options(scheme: str) -> dict[str, Any]:
    """The fsspec options a URL of ``scheme`` is opened with: built-in defaults, under fsspec's own
    configuration (``FSSPEC_<SCHEME>_<OPTION>`` variables, ``~/.config/fsspec``), under ``params.yaml``."""
    from fsspec.config import conf

    entry = _configured.get(scheme)
    if entry is not None and not entry["checked"]:
        _check_options(scheme, entry["options"], entry["source"])
        entry["checked"] = True
    merged = _merge(DEFAULTS.get(scheme, {}), conf.get(scheme, {}))
    return copy.deepcopy(_merge(merged, entry["options"] if entry else {}))  # botocore edits what it is given


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, Mapping) and isinstance(
            merged.get(key), Mapping) else value
    return merged


def _check_options(scheme: str, values: Mapping[str, Any], source: str) -> None:
    """Refuse an option the backend does not take (``endpoint_ur`` would silently use AWS's endpoint)."""
    cls = _backend(scheme)
    parameters = inspect.signature(cls.__init__).parameters.values()
    known = {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)} - {"self"}
    for key in sorted(set(values) - known - GENERIC_OPTIONS - PASSED_ON.get(scheme, set())) if known else []:
        raise UsageError(f"{source}: storage.{scheme}.{key} is not an option of {cls.__name__}; "
                         f"{suggestion(key, known, f'storage.{scheme}.')}")


def _backend(scheme: str) -> Any:
    from fsspec.registry import get_filesystem_class

    try:
        return get_filesystem_class(scheme)
    except ImportError as error:
        extra = " (pip install 'sdnet-pipeline[s3]')" if scheme in ("s3", "s3a") else ""
        raise UsageError(f"{scheme}:// URLs need their fsspec backend on this machine and on every worker{extra}: "
                         f"{error}") from None
    except ValueError as error:
        raise UsageError(f"{scheme}:// is not a URL scheme fsspec knows ({error})") from None


# -- file systems ------------------------------------------------------------------------------------
def filesystem(url: str) -> tuple[Any, str]:
    """(the fsspec file system, the path within it) of a URL. The first use of a bucket in this process
    asks the store for it (see :func:`check_reachable`)."""
    import fsspec

    match = URL.match(url)
    if match is None:
        raise ValueError(f"{url} is not a URL")
    scheme = match.group(1)
    _backend(scheme)
    fs, path = fsspec.core.url_to_fs(url, **options(scheme))
    _opened.setdefault(id(fs), fs)
    root = path.strip("/").split("/", 1)[0]
    if (scheme, root) not in _reachable:
        check_reachable(fs, url, root)
        _reachable.add((scheme, root))
    return fs, path


def check_reachable(fs: Any, url: str, root: str) -> None:
    """The bucket (the first part of the path) answers: else one line saying what to check."""
    try:
        fs.info(root)
    except FileNotFoundError:
        raise UsageError(f"{url}: bucket {root!r} does not exist (or these credentials cannot see it): create it, or "
                         "correct the URL") from None
    except PermissionError as error:
        raise UsageError(f"{url}: access to {root!r} denied ({_short(error)}): check the credentials "
                         "(AWS_PROFILE, AWS_ACCESS_KEY_ID, ~/.aws/credentials)") from None
    except Exception as error:  # a connection error of whichever client library the backend uses
        raise UsageError(f"{url}: the store does not answer ({type(error).__name__}: {_short(error)}): check the "
                         "endpoint (AWS_ENDPOINT_URL or params.yaml's storage.s3.endpoint_url), the network and "
                         "the credentials") from None


def _short(error: BaseException) -> str:
    return " ".join(str(error).split())[:300]


# -- reading -----------------------------------------------------------------------------------------
def _ask(location: str | Path, local: Callable[[Path], T], remote: Callable[[Any, str], T]) -> T:
    """Answer a question about ``location`` with pathlib for a local path, with fsspec for a URL."""
    base = as_location(location)
    if isinstance(base, Path):
        return local(base)
    fs, path = filesystem(base)
    return remote(fs, path)


def is_file(location: str | Path) -> bool:
    return bool(_ask(location, Path.is_file, lambda fs, path: fs.isfile(path)))


def is_dir(location: str | Path) -> bool:
    """A local folder, or a URL prefix that holds objects (object stores have no empty folders)."""
    return bool(_ask(location, Path.is_dir, lambda fs, path: fs.isdir(path)))


def files(folder: str | Path, suffix: str = "") -> dict[str, int]:
    """Name → size of the files directly in ``folder`` whose names end with ``suffix``, in one listing
    (one request per thousand objects on S3); empty when the folder does not exist."""
    base = as_location(folder)
    if isinstance(base, Path):
        try:
            with os.scandir(base) as entries:
                return {e.name: e.stat().st_size for e in entries if e.name.endswith(suffix) and e.is_file()}
        except (FileNotFoundError, NotADirectoryError):
            return {}
    fs, path = filesystem(base)
    try:
        listed = fs.ls(path, detail=True, refresh=True)
    except FileNotFoundError:
        return {}
    found = {entry["name"].rstrip("/").rsplit("/", 1)[-1]: int(entry["size"]) for entry in listed
             if entry["type"] == "file"}
    return {name: size for name, size in found.items() if name.endswith(suffix)}


def open_read(location: str | Path) -> BinaryIO:
    """A binary stream; for a URL, fetched ahead in :data:`STREAM_BLOCK` pieces. A missing file raises
    FileNotFoundError."""
    base = as_location(location)
    if isinstance(base, Path):
        return open(base, "rb")
    fs, path = filesystem(base)
    return cast(BinaryIO, fs.open(path, "rb", block_size=STREAM_BLOCK, cache_type="background",
                                  cache_options={"maxblocks": 2}))


def read_bytes(location: str | Path) -> bytes:
    with open_read(location) as handle:
        return handle.read()


def read_json(location: str | Path) -> Any:
    return json.loads(read_bytes(location))


def read_many(locations: list[Location]) -> dict[Location, bytes]:
    """The bytes of each location that exists, missing ones left out; URLs (of one store) fetched concurrently."""
    found: dict[Location, bytes] = {}
    urls = [location for location in locations if isinstance(location, str)]
    for location in locations:
        if isinstance(location, Path):
            try:
                found[location] = location.read_bytes()
            except OSError:  # missing or unreadable: as good as missing
                pass
    if urls:
        fs, _ = filesystem(urls[0])
        paths = {filesystem(url)[1]: url for url in urls}
        for path, data in fs.cat(list(paths), on_error="return").items():
            if isinstance(data, FileNotFoundError):
                continue
            if isinstance(data, BaseException):
                raise data
            found[paths[path]] = data
    return found


def read_parquet(location: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    base = as_location(location)
    if isinstance(base, Path):
        return pd.read_parquet(base, columns=columns)
    with open_read(base) as handle:
        return pd.read_parquet(handle, columns=columns)


def parquet_columns(location: str | Path) -> list[str]:
    import pyarrow.parquet as pq

    with open_read(location) as handle:
        return list(pq.read_schema(handle).names)


# -- writing -----------------------------------------------------------------------------------------
def make_folder(location: str | Path) -> None:
    """A local folder and its parents; nothing for a URL (a store has no folders: objects make them)."""
    base = as_location(location)
    if isinstance(base, Path):
        base.mkdir(parents=True, exist_ok=True)


def write_bytes(location: str | Path, data: bytes) -> None:
    """Locally under a temporary name renamed into place; to a store in one upload."""
    base = as_location(location)
    if isinstance(base, Path):
        write_bytes_atomic(data, base)
        return
    fs, path = filesystem(base)
    fs.pipe_file(path, data)


def write_json(location: str | Path, document: Any) -> None:
    """The same text in a folder and in a store (``pipeline.io.json_text``)."""
    write_bytes(location, json_text(document).encode("utf-8"))


def write_parquet(location: str | Path, table: pd.DataFrame) -> None:
    base = as_location(location)
    if isinstance(base, Path):
        write_parquet_atomic(table, base)
        return
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    write_bytes(base, buffer.getvalue())


def upload(local_file: Path, url: str) -> None:
    """A finished local file to a store, whole: the object appears only when all of it is there."""
    fs, path = filesystem(url)
    fs.put_file(str(local_file), path)


def remove(location: str | Path) -> None:
    """Remove a file or object; one that is not there is fine."""
    base = as_location(location)
    if isinstance(base, Path):
        base.unlink(missing_ok=True)
        return
    fs, path = filesystem(base)
    try:
        fs.rm_file(path)
    except FileNotFoundError:
        pass


# -- local staging of uploads ------------------------------------------------------------------------
def staging_file(name: str) -> Path:
    """Where this process builds ``name`` before uploading it: in the temporary folder (``TMPDIR``), named
    with this process's id. Files there whose process is gone (a worker killed mid-write) are removed first."""
    folder = Path(tempfile.gettempdir()) / f"sdnet-staging-{os.getuid() if hasattr(os, 'getuid') else 0}"
    folder.mkdir(exist_ok=True)
    for leftover in folder.glob(TEMPORARY_GLOB):
        pid = leftover.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            log.info("removing %s: its writer (process %s) is gone", leftover, pid)
            leftover.unlink(missing_ok=True)
    return temporary_path(folder / name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


# -- WebDataset ----------------------------------------------------------------------------------------
def register_webdataset(url: str) -> None:
    """Make WebDataset's ``gopen`` open ``url``'s scheme through fsspec (in the process that opens it)."""
    match = URL.match(url)
    if match is None:
        return
    import importlib

    schemes = importlib.import_module("webdataset.gopen").gopen_schemes  # the module (the package exports gopen())
    if schemes.get(match.group(1)) is not _gopen:
        schemes[match.group(1)] = _gopen


def _gopen(url: str, mode: str = "rb", bufsize: int = 8192, **kw: Any) -> BinaryIO:
    """WebDataset's handler signature; shards are only ever read."""
    if mode != "rb":
        raise ValueError(f"{url}: shards are read-only here (mode {mode!r})")
    return open_read(url)
