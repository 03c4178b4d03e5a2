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
from pipeline.format.tars import tar_members


def tar_samples(handler: Callable[[Exception], bool]) -> Callable[[Iterable[dict[str, Any]]], Iterator[dict[str, Any]]]:
    """Pipeline stage: shard URLs → samples, as ``wds.tarfile_to_samples`` does it, with the shard format's
    reader; errors go to ``handler`` (WebDataset's contract)."""
    from webdataset.tariterators import group_by_keys, url_opener

    settings = storage.configured()  # travels with the stage into DataLoader workers, however they start

    def stage(sources: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        storage.use_configuration(settings)
        return group_by_keys(_tar_files(url_opener(_registered(sources), handler=handler), handler), handler=handler)

    return stage


def _registered(sources: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Each shard URL with gopen able to open its scheme."""
    for source in sources:
        storage.register_webdataset(source["url"])
        yield source


def _tar_files(streams: Iterable[dict[str, Any]], handler: Callable[[Exception], bool]) -> Iterator[dict[str, Any]]:
    """Members of each opened shard, then ``{}`` (WebDataset's end-of-shard mark: samples of two shards
    never merge, not even after an error). A shard that fails to read goes to the handler and the rest
    of it is lost; the sample it was in the middle of goes on incomplete, and is skipped when it does
    not decode."""
    for source in streams:
        url, stream = source["url"], source["stream"]
        try:
            for name, data in tar_members(stream, url):
                yield {"fname": name, "data": data, "__url__": url}
            yield {}
        except Exception as error:  # WebDataset's contract: the handler decides
            yield {}
            if not handler(error):
                break
        finally:
            stream.close()
