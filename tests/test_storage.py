"""Shards and manifests in an S3 bucket, against a real S3 server on loopback (SeaweedFS, ``weed mini`` on 127.0.0.1:
tests/object_store.py): the shard stage on two Dask workers with one killed, reruns, verify, the report, training and
evaluation streamed from the bucket, mistakes ended in one line, and no secret in any output. Every fault is made for
real, none emulated: a worker killed mid-upload, objects cut or deleted in the bucket, a missing bucket, and a closed
loopback port for a store that does not answer."""
from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from pipeline import storage
from pipeline.errors import UsageError
from pipeline.format.splits import SplitShards
from pipeline.format.tars import read_tar_samples
from pipeline.report import cli as report
from pipeline.report.data import scan_shards
from pipeline.shard import run
from pipeline.verify import verify
from training.data import CorruptSamples, eval_pipeline, iterate_eval, loader, split_shards
from training.evaluate import main as evaluate_main

from .commands import assert_refused, params_with, run as command, torchrun
from .killing import run_killing_a_writer
from .manifests import copy_index_manifests
from .object_store import SECRET, closed_port, local_files


# -- locations and settings -------------------------------------------------------------------------------
def test_local_paths_stay_paths_and_urls_stay_text():
    assert storage.as_location("data/shards/cefa") == Path("data/shards/cefa")
    assert storage.as_location("file:///srv/shards/cefa") == Path("/srv/shards/cefa")
    assert storage.as_location("s3://bucket/shards/cefa/") == "s3://bucket/shards/cefa"
    assert storage.join("s3://bucket/shards", "_parts", "x.json") == "s3://bucket/shards/_parts/x.json"
    assert storage.join("data/shards", "x.tar") == Path("data/shards/x.tar")
    assert storage.name_of("s3://bucket/shards/cefa") == "cefa"


def test_storage_settings_take_an_endpoint_and_refuse_credentials_and_typos():
    try:
        storage.configure({"s3": {"endpoint_url": "http://127.0.0.1:9000", "anon": None}})
        options = storage.options("s3")
        assert options["endpoint_url"] == "http://127.0.0.1:9000" and "anon" not in options  # null: not set
        assert options["config_kwargs"]["connect_timeout"] == 5  # the short built-in timeouts stay under it
        storage.configure({"s3": {"profile": "lab", "config_kwargs": {"connect_timeout": 20}}})
        options = storage.options("s3")  # an AWS profile is handed on to the client; settings merge into defaults
        assert options["profile"] == "lab" and options["config_kwargs"]["connect_timeout"] == 20
        assert options["config_kwargs"]["retries"] == {"mode": "standard", "max_attempts": 3}
        for secret in ({"secret": "hunter2"}, {"client_kwargs": {"aws_secret_access_key": "hunter2"}}):
            with pytest.raises(UsageError, match=r"storage\.s3\.\S*secret\S* is a credential") as refused:
                storage.configure({"s3": secret}, "params.yaml")
            assert "hunter2" not in str(refused.value) and "AWS_SECRET_ACCESS_KEY" in str(refused.value)
        storage.configure({"s3": {"endpoint_ur": "http://127.0.0.1:9000"}})
        with pytest.raises(UsageError, match=r"storage\.s3\.endpoint_ur is not an option .*storage\.s3\.endpoint_url"):
            storage.options("s3")
        with pytest.raises(UsageError, match=r"storage\.s4 is not a URL scheme fsspec knows; did you mean storage\.s3"):
            storage.configure({"s4": {"endpoint_url": "x"}})
    finally:
        storage.configure(None)


# -- the shard stage ----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_the_shard_command_writes_to_a_bucket_the_bytes_it_writes_to_a_folder_and_logs_no_secret(cefa_bucket,
                                                                                                cefa_shards, s3):
    """Two Dask workers, each uploading its own tars (credentials from the environment they inherited)."""
    assert s3.objects(cefa_bucket.out) == local_files(cefa_shards.out)  # every tar and part, byte for byte
    assert SECRET not in cefa_bucket.output  # --verbose, with Dask's and the S3 client's loggers at work
    assert f"→ {cefa_bucket.out}" in cefa_bucket.output
    index = storage.read_json(f"{cefa_bucket.manifests}/splits.json")
    assert index["shard_dir"] == cefa_bucket.out  # training finds the shards by their URL
    for name in ("samples", "rejects", "shards"):
        remote = storage.read_parquet(f"{cefa_bucket.manifests}/{name}.parquet")
        assert remote.equals(pd.read_parquet(cefa_shards.manifests / f"{name}.parquet")), name


@pytest.mark.slow
def test_a_worker_killed_while_it_uploads_a_shard_leaves_the_bucket_as_a_clean_run(cefa_shards, demo_manifests, s3,
                                                                                  tmp_path, monkeypatch):
    root, manifests = demo_manifests("cefa")
    bucket = s3.bucket("killed")
    s3.upload(copy_index_manifests(manifests, tmp_path / "m"), f"{bucket}/manifests")
    staging = tmp_path / "staging"
    staging.mkdir()
    monkeypatch.setenv("TMPDIR", str(staging))  # the workers' temporary folder: where a tar is built before upload
    config = replace(cefa_shards, manifests=f"{bucket}/manifests", out=f"{bucket}/shards", workers=2)
    summary = run_killing_a_writer(config, staging, "sdnet-staging-*/.*.tar.tmp-*")  # killed before its upload
    assert summary.failed_shards == []
    assert s3.objects(config.out) == local_files(cefa_shards.out)  # the lost shard was redone, identically
    assert not list(staging.glob("sdnet-staging-*/*"))  # the killed worker's staging file was swept by the retry
    samples = storage.read_parquet(f"{config.manifests}/samples.parquet")
    assert samples.equals(pd.read_parquet(cefa_shards.manifests / "samples.parquet"))
    assert verify(config.out, config.manifests) == []


def test_a_rerun_on_a_bucket_reuses_a_folders_run_and_redoes_only_what_is_missing_or_damaged(cefa_shards, s3,
                                                                                            tmp_path):
    bucket = s3.bucket("rerun")
    s3.upload(cefa_shards.out, f"{bucket}/shards")  # a finished run, copied into the bucket
    config = replace(cefa_shards, out=f"{bucket}/shards",
                     manifests=copy_index_manifests(cefa_shards.manifests, tmp_path / "m"))
    summary = run(config)
    assert summary.reused == summary.shards and summary.failed_shards == []
    client, prefix = s3.client(), f"{bucket}/shards".removeprefix("s3://")
    tars = sorted(name for name in local_files(cefa_shards.out) if name.endswith(".tar"))
    client.pipe_file(f"{prefix}/{tars[0]}", client.cat_file(f"{prefix}/{tars[0]}")[:2048])  # cut after its part
    client.rm_file(f"{prefix}/_parts/{tars[1][:-4]}.json")  # a tar its part never vouched for
    client.pipe_file(f"{prefix}/notes.tar", b"someone else's object")
    summary = run(config)
    assert summary.reused == summary.shards - 2 and summary.failed_shards == []
    objects = s3.objects(config.out)
    assert objects.pop("notes.tar") == b"someone else's object"
    assert objects == local_files(cefa_shards.out)


# -- reading from the bucket --------------------------------------------------------------------------------
@pytest.mark.slow
def test_verify_and_the_report_read_shards_from_the_bucket(cefa_bucket, cefa_shards, demo_manifests, s3, tmp_path):
    assert verify(cefa_bucket.out, cefa_bucket.manifests) == []
    done = command(["pipeline.verify", "--shards", cefa_bucket.out, "--manifests", cefa_bucket.manifests], timeout=300)
    assert done.returncode == 0 and "verify ok" in done.stderr, done.stderr[-2000:]
    shards = pd.read_parquet(cefa_shards.manifests / "shards.parquet")
    wanted = set(pd.read_parquet(cefa_shards.manifests / "samples.parquet")["key"][:3])
    remote, local = scan_shards(cefa_bucket.out, shards, wanted), scan_shards(cefa_shards.out, shards, wanted)
    assert remote.unreadable == {} and remote.crops.equals(local.crops) and remote.members == local.members
    root, _ = demo_manifests("cefa")
    assert report.main(["--dataset", "cefa", "--root", str(root), "--manifests", cefa_bucket.manifests,
                        "--shards", cefa_bucket.out, "--out", str(tmp_path / "report"), "--quiet"]) == 0
    assert cefa_bucket.out in (tmp_path / "report" / "report.html").read_text()


@pytest.mark.slow
def test_training_and_evaluation_stream_from_the_bucket_exactly_once_and_print_no_secret(cefa_bucket, s3, tmp_path):
    params = params_with(tmp_path, "train", width=4, epochs=1, batch_size=4, epoch_samples=8, num_workers=1,
                         input_size=64, lr_milestones=[1])  # two steps
    paths = ["--manifests", cefa_bucket.manifests, "--shards", cefa_bucket.out, "--params", str(params)]
    done = command(["training.train", "--dataset", "cefa", "--protocol", "4@1", *paths, "--out",
                    str(tmp_path / "model"), "--verbose"], timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert SECRET not in done.stdout + done.stderr
    assert json.loads((tmp_path / "model" / "dvclive" / "metrics.json").read_text())["step"] == 0
    assert not list(tmp_path.glob("**/*.tar"))  # streamed: no local copy of the split

    test = split_shards(cefa_bucket.manifests, "4_1", "test", cefa_bucket.out)
    assert all(url.startswith(f"{cefa_bucket.out}/") for url in test.urls) and len(test.urls) >= 2
    keys = [key for batch in iterate_eval(test, ["rgb"], 3, num_workers=2) for key in batch["key"]]
    assert len(keys) == len(set(keys)) == test.n_samples  # every sample once across the two workers
    ranks = torchrun("tests/dist_eval_keys.py", cefa_bucket.manifests, cefa_bucket.out, str(tmp_path))
    assert ranks.returncode == 0, ranks.stderr[-3000:]
    per_rank = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert per_rank[0] and per_rank[1] and sorted(per_rank[0] + per_rank[1]) == sorted(keys)  # split across ranks
    assert evaluate_main(["--dataset", "cefa", "--protocol", "4@1", *paths, "--checkpoint",
                          str(tmp_path / "model" / "checkpoint.pt"), "--out", str(tmp_path / "eval"), "-q"]) == 0
    scores = pd.read_csv(tmp_path / "eval" / "scores_test.csv")
    samples = storage.read_parquet(f"{cefa_bucket.manifests}/samples.parquet")
    windows = samples[samples["shard"].isin([Path(url).stem for url in test.urls])].groupby("video_id").size()
    assert scores.set_index("video_id")["n_windows"].sort_index().equals(windows.sort_index())


@pytest.mark.slow
def test_from_a_bucket_a_missing_object_stops_at_once_and_a_damaged_one_is_skipped(cefa_bucket, s3):
    test = split_shards(cefa_bucket.manifests, "4_1", "test", cefa_bucket.out)
    good, other = test.urls[:2]
    bucket = s3.bucket("damaged")
    client = s3.client()
    client.pipe_file(f"{bucket.removeprefix('s3://')}/cut.tar", client.cat_file(other.removeprefix("s3://"))[:3000])
    counted = CorruptSamples()
    damaged = SplitShards("4_1", "test", [good, f"{bucket}/cut.tar"], test.n_samples)
    keys = [k for batch in loader(eval_pipeline(damaged, ["rgb"], 2, on_error=counted), 0) for k in batch["key"]]
    assert sorted(keys) == sorted(read_tar_samples(good)) and counted.skipped >= 1  # the cut rest skipped, counted
    missing = SplitShards("4_1", "test", [good, f"{bucket}/gone.tar"], test.n_samples)
    with pytest.raises(FileNotFoundError):
        list(loader(eval_pipeline(missing, ["rgb"], 2, on_error=CorruptSamples()), 0))
    with pytest.raises(UsageError, match=rf"{bucket}/[^ ]+\.tar does not exist .* expects the shards in {bucket}"):
        split_shards(cefa_bucket.manifests, "4_1", "test", bucket)


# -- mistakes -------------------------------------------------------------------------------------------------
def test_an_unreachable_endpoint_or_a_missing_bucket_is_one_line_and_exit_2(demo_manifests, s3, tmp_path):
    root, manifests = demo_manifests("cefa")
    local = str(copy_index_manifests(manifests, tmp_path / "m"))
    shard = ["pipeline.shard", "--dataset", "cefa", "--root", str(root), "--manifests", local, "--workers", "0"]
    assert_refused(command([*shard, "--out", "s3://no-such-bucket/shards"], timeout=300),
                   "s3://no-such-bucket/shards: bucket 'no-such-bucket' does not exist")
    assert_refused(command(["training.train", "--dataset", "cefa", "--protocol", "4@1", "--manifests",
                        "s3://no-such-bucket/manifests"], timeout=300), "bucket 'no-such-bucket' does not exist")
    nowhere = os.environ | {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{closed_port()}"}
    for done in (command([*shard, "--out", "s3://bucket/shards"], env=nowhere),
                 command(["pipeline.verify", "--shards", "s3://bucket/shards", "--manifests", "s3://bucket/m"],
                     env=nowhere)):
        assert done.returncode == 2
        assert_refused(done, "s3://bucket/", ": the store does not answer", "check the endpoint (AWS_ENDPOINT_URL")
        assert SECRET not in done.stderr


def test_the_endpoint_can_come_from_params_and_a_secret_there_is_refused_unprinted(cefa_shards, s3, tmp_path):
    bucket = s3.bucket("params")
    s3.upload(cefa_shards.out, f"{bucket}/shards")
    params = params_with(tmp_path, "storage", s3={"endpoint_url": s3.endpoint})
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}  # only params.yaml names the server
    verify_command = ["pipeline.verify", "--shards", f"{bucket}/shards", "--manifests", str(cefa_shards.manifests),
                      "--params", str(params)]
    done = command(verify_command, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    params_with(tmp_path, "storage", s3={"endpoint_url": s3.endpoint, "secret": "hunter2-in-a-params-file"})
    done = command(verify_command, timeout=300, env=env)
    assert_refused(done, "storage.s3.secret is a credential", "AWS_SECRET_ACCESS_KEY")
    assert done.returncode == 2 and "hunter2" not in done.stderr
