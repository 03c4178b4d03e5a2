"""Shard tars into WebDataset samples, read by the shard format's own tar reader (:mod:`pipeline.format.tars`).

Shards are opened by WebDataset's own ``gopen``: local paths as files, and URLs (``s3://…``) streamed
through fsspec by the handler :func:`pipeline.storage.register_webdataset` installs for their scheme, in
the process that reads them (a DataLoader worker too), with the storage settings of the process that
built the pipeline. Nothing is copied to local disk.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pipeline import storage
from pipeline.format.members import split_member_name
from pipeline.format.tars import tar_members

#: Asked with a sample's JSON member as soon as it is read: whether the sample is wanted.
Keep = Callable[[bytes], bool]


def tar_samples(handler: Callable[[Exception], bool],
                keep: Keep | None = None) -> Callable[[Iterable[dict[str, Any]]], Iterator[dict[str, Any]]]:
    """Pipeline stage: shard URLs → samples, as ``wds.tarfile_to_samples`` does it, with the shard format's
    reader; errors go to ``handler`` (WebDataset's contract). ``keep`` drops the samples it refuses in the
    reader (:class:`Selection`)."""
    from webdataset.tariterators import group_by_keys, url_opener

    settings = storage.configured()  # travels with the stage into DataLoader workers, however they start

    def stage(sources: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        storage.use_configuration(settings)
        files = _tar_files(url_opener(_registered(sources), handler=handler), handler, keep)
        return group_by_keys(files, handler=handler)

    return stage


class Selection:
    """The members of the samples ``keep`` wants, asked with each sample's JSON member when it is read. A refused
    sample's earlier members are dropped and its later ones skipped unread by the tar reader (seeked over where the
    stream can seek): a sample's images after its JSON (``rgb``, ``rgb_di``: members come in name order) cost a
    header each. A sample without a JSON member goes on as it is, for the decoder to call corrupt."""

    def __init__(self, keep: Keep):
        self.keep, self.refused = keep, ""

    def wanted(self, name: str) -> bool:
        return split_member_name(name)[0] != self.refused

    def members(self, members: Iterable[tuple[str, bytes]]) -> Iterator[tuple[str, bytes]]:
        key = ""
        held: list[tuple[str, bytes]] | None = []  # the sample's members until its JSON says; None once it is wanted
        for name, data in members:
            member_key, extension = split_member_name(name)
            if member_key == self.refused:
                continue
            if member_key != key:
                yield from held or ()
                key, held = member_key, []
            if held is None:
                yield name, data
            elif extension != "json":
                held.append((name, data))
            elif self.keep(data):
                yield from held
                yield name, data
                held = None
            else:
                self.refused, held = key, []
        yield from held or ()


def _registered(sources: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Each shard URL with gopen able to open its scheme."""
    for source in sources:
        storage.register_webdataset(source["url"])
        yield source


def _tar_files(streams: Iterable[dict[str, Any]], handler: Callable[[Exception], bool],
               keep: Keep | None = None) -> Iterator[dict[str, Any]]:
    """Members of each opened shard (of the samples ``keep`` wants), then ``{}`` (WebDataset's end-of-shard mark:
    samples of two shards never merge, not even after an error). A shard that fails to read goes to the handler
    and the rest of it is lost; the sample it was in the middle of goes on incomplete, and is skipped when it does
    not decode."""
    for source in streams:
        url, stream = source["url"], source["stream"]
        selection = Selection(keep) if keep is not None else None
        try:
            members = tar_members(stream, url, wanted=selection.wanted if selection else None)
            for name, data in selection.members(members) if selection else members:
                yield {"fname": name, "data": data, "__url__": url}
            yield {}
        except Exception as error:  # WebDataset's contract: the handler decides
            yield {}
            if not handler(error):
                break
        finally:
            stream.close()
