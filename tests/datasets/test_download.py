"""Downloads against a local HTTP server serving archives built here (no internet needed)."""

from __future__ import annotations

import io
import json
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from bench.cli import main as cli_main
from bench.datasets import load_clips, parse_datasets_arg
from bench.datasets.download import (
    MARKER,
    ChecksumMismatch,
    DownloadError,
    UnsafeArchive,
    download_dataset,
    extract_archive,
    fetch,
    safe_member_path,
)
from bench.datasets.sources import ESC50, SOURCES, get_source
from bench.errors import BenchError, UnknownNameError
from tests.datasets.conftest import (
    ESC50_ROWS,
    LIBRI_LAYOUT,
    esc50_zip,
    leftovers,
    librispeech_tgz,
    sha256,
)

FAST = {"backoff": 0.0, "timeout": 10.0, "progress": False}


def _serve(served, path: str, data: bytes) -> None:
    served.files[path] = data


# -- happy paths --------------------------------------------------------------------------------
def test_esc50_happy_path_installs_a_loadable_dataset(server, tmp_path: Path) -> None:
    base, served = server
    archive = esc50_zip()
    _serve(served, "/esc.zip", archive)
    log = io.StringIO()
    result = download_dataset(
        "esc50", tmp_path, url=f"{base}/esc.zip", sha256=sha256(archive), stream=log, **FAST
    )
    assert result.status == "downloaded"
    assert result.path == tmp_path / "ESC-50-master"
    marker = json.loads((result.path / MARKER).read_text())
    assert marker["sha256"] == sha256(archive)
    assert marker["target"] == "esc50"
    # the archive and every temporary folder are gone; only the dataset remains
    assert [p.name for p in (tmp_path / ".downloads").iterdir()] == ["esc50.lock"]
    assert [p.name for p in tmp_path.iterdir() if p.name != ".downloads"] == ["ESC-50-master"]
    # a bare name now finds it under the data root, and it lists and loads
    (spec,) = parse_datasets_arg("esc50", tmp_path)
    clips = load_clips(spec)
    assert sorted(c.meta["filename"] for c in clips) == sorted(r[0] for r in ESC50_ROWS)
    assert clips[0].load().rate == 44100


def test_commit_archive_top_folder_is_renamed(server, tmp_path: Path) -> None:
    """GitHub's archive of a commit extracts to ESC-50-<sha>/; it is installed as ESC-50-master."""
    base, served = server
    archive = esc50_zip(top=f"ESC-50-{'a' * 40}")
    _serve(served, "/c.zip", archive)
    result = download_dataset(
        "esc50", tmp_path, url=f"{base}/c.zip", sha256=sha256(archive), stream=io.StringIO(), **FAST
    )
    assert (result.path / "meta" / "esc50.csv").is_file()
    assert result.path.name == "ESC-50-master"


def test_librispeech_happy_path_merges_subset_into_corpus(server, tmp_path: Path) -> None:
    base, served = server
    archive = librispeech_tgz("dev-clean")
    _serve(served, "/dev-clean.tar.gz", archive)
    result = download_dataset(
        "librispeech:dev-clean",
        tmp_path,
        url=f"{base}/dev-clean.tar.gz",
        sha256=sha256(archive),
        stream=io.StringIO(),
        **FAST,
    )
    assert result.path == tmp_path / "LibriSpeech" / "dev-clean"
    assert (tmp_path / "LibriSpeech" / "SPEAKERS.TXT").is_file()
    (spec,) = parse_datasets_arg("librispeech", tmp_path)
    clips = load_clips(spec)
    expected = {
        f"{spk}-{chap}-{utt:04d}"
        for spk, chapters in LIBRI_LAYOUT["dev-clean"].items()
        for chap, utts in chapters.items()
        for utt in utts
    }
    assert {c.clip_id for c in clips} == expected
    assert all(c.meta["transcript"].startswith("WORDS OF UTTERANCE") for c in clips)
    assert {c.meta["sex"] for c in clips if c.meta["speaker"] == "84"} == {"F"}
    # no temporary folder is left inside LibriSpeech/
    assert sorted(p.name for p in (tmp_path / "LibriSpeech").iterdir()) == [
        "README.TXT",
        "SPEAKERS.TXT",
        "dev-clean",
    ]


def test_second_call_is_a_no_op(server, tmp_path: Path) -> None:
    base, served = server
    archive = esc50_zip()
    _serve(served, "/esc.zip", archive)
    kwargs = {"url": f"{base}/esc.zip", "sha256": sha256(archive), **FAST}
    download_dataset("esc50", tmp_path, stream=io.StringIO(), **kwargs)
    requests_before = len(served.log)
    log = io.StringIO()
    again = download_dataset("esc50", tmp_path, stream=log, **kwargs)
    assert again.status == "already-downloaded"
    assert len(served.log) == requests_before  # not even a request
    assert "already downloaded" in log.getvalue()


def test_existing_copy_not_made_by_the_downloader_is_left_alone(server, tmp_path: Path) -> None:
    base, served = server
    archive = esc50_zip()
    (tmp_path / "ESC-50-master" / "meta").mkdir(parents=True)
    (tmp_path / "ESC-50-master" / "meta" / "esc50.csv").write_text(
        "filename,fold,target,category,esc10,src_file,take\n"
    )
    _serve(served, "/esc.zip", archive)
    result = download_dataset(
        "esc50", tmp_path, url=f"{base}/esc.zip", sha256=sha256(archive), stream=io.StringIO()
    )
    assert result.status == "present"
    assert served.log == []


def test_a_broken_folder_in_the_way_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "ESC-50-master").mkdir()
    with pytest.raises(BenchError, match="not a complete esc50 folder"):
        download_dataset("esc50", tmp_path, stream=io.StringIO())


# -- resume -------------------------------------------------------------------------------------
def test_resume_after_a_cut_connection(server, tmp_path: Path) -> None:
    base, served = server
    archive = esc50_zip()
    _serve(served, "/esc.zip", archive)
    cut = len(archive) // 3
    served.cut_after, served.cuts = cut, 1
    result = download_dataset(
        "esc50",
        tmp_path,
        url=f"{base}/esc.zip",
        sha256=sha256(archive),
        stream=io.StringIO(),
        **FAST,
    )
    assert result.status == "downloaded"
    ranges = [r for _, _, r in served.log]
    assert ranges == [None, f"bytes={cut}-"]
    assert len(load_clips(parse_datasets_arg("esc50", tmp_path)[0])) == len(ESC50_ROWS)


def test_resume_after_repeated_cuts(server, tmp_path: Path) -> None:
    """Every attempt that makes progress resets the retry budget."""
    base, served = server
    data = bytes(range(256)) * 400
    _serve(served, "/blob", data)
    served.cut_after, served.cuts = 10_000, 8  # more cuts than retries=2
    dest = tmp_path / "blob"
    digest = fetch(f"{base}/blob", dest, sha256=sha256(data), retries=2, **FAST)
    assert digest == sha256(data)
    assert dest.read_bytes() == data
    assert len(served.log) == 9
    assert not (tmp_path / "blob.part").exists()


def test_resume_from_a_part_file_left_by_an_earlier_run(server, tmp_path: Path) -> None:
    base, served = server
    data = b"0123456789" * 5000
    _serve(served, "/blob", data)
    (tmp_path / "blob.part").write_bytes(data[:12345])
    fetch(f"{base}/blob", tmp_path / "blob", sha256=sha256(data), **FAST)
    assert served.log == [("GET", "/blob", "bytes=12345-")]
    assert (tmp_path / "blob").read_bytes() == data


def test_server_ignoring_range_restarts_from_zero(server, tmp_path: Path) -> None:
    base, served = server
    data = b"abcdefghij" * 5000
    _serve(served, "/blob", data)
    served.honour_range = False
    (tmp_path / "blob.part").write_bytes(b"stale bytes")
    log = io.StringIO()
    fetch(f"{base}/blob", tmp_path / "blob", sha256=sha256(data), stream=log, **FAST)
    assert (tmp_path / "blob").read_bytes() == data
    assert "starting over" in log.getvalue()


def test_complete_part_file_is_not_downloaded_again(server, tmp_path: Path) -> None:
    base, served = server
    data = b"xyz" * 1000
    _serve(served, "/blob", data)
    (tmp_path / "blob.part").write_bytes(data)
    fetch(f"{base}/blob", tmp_path / "blob", sha256=sha256(data), **FAST)
    assert served.log == [("GET", "/blob", f"bytes={len(data)}-")]  # answered 416: complete
    assert (tmp_path / "blob").read_bytes() == data


def test_giving_up_keeps_the_part_file_for_the_next_run(server, tmp_path: Path) -> None:
    base, served = server
    data = b"q" * 50_000
    _serve(served, "/blob", data)
    served.cut_after, served.cuts = 0, 100  # never a byte
    with pytest.raises(DownloadError, match="gave up after 2 retries"):
        fetch(f"{base}/blob", tmp_path / "blob", sha256=sha256(data), retries=2, **FAST)
    assert len(served.log) == 3
    assert not (tmp_path / "blob").exists()


def test_http_404_is_a_clear_error(server, tmp_path: Path) -> None:
    base, _ = server
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_dataset("esc50", tmp_path, url=f"{base}/missing.zip", stream=io.StringIO(), **FAST)
    assert not (tmp_path / "ESC-50-master").exists()


# -- checksums ----------------------------------------------------------------------------------
def test_checksum_mismatch_leaves_nothing(server, tmp_path: Path) -> None:
    base, served = server
    _serve(served, "/esc.zip", esc50_zip())
    # no --sha256: the pinned checksum of the official archive applies and cannot match
    with pytest.raises(ChecksumMismatch, match="checksum mismatch") as info:
        download_dataset("esc50", tmp_path, url=f"{base}/esc.zip", stream=io.StringIO(), **FAST)
    assert ESC50.sha256 in str(info.value)
    assert "nothing was installed" in str(info.value)
    assert leftovers(tmp_path) == []


def test_wrong_sha256_override_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="64 hexadecimal"):
        download_dataset("esc50", tmp_path, sha256="abc", stream=io.StringIO())


# -- unsafe archives ----------------------------------------------------------------------------
def test_path_traversal_member_is_refused_and_nothing_is_left(server, tmp_path: Path) -> None:
    base, served = server
    data_root = tmp_path / "root"
    archive = esc50_zip(extra={"ESC-50-master/../../evil.txt": b"owned"})
    _serve(served, "/esc.zip", archive)
    with pytest.raises(UnsafeArchive, match=r"escapes the target folder"):
        download_dataset(
            "esc50", data_root, url=f"{base}/esc.zip", sha256=sha256(archive), stream=io.StringIO()
        )
    assert not (tmp_path / "evil.txt").exists()
    assert not any(tmp_path.rglob("evil.txt"))
    assert leftovers(data_root) == []  # no dataset, no temporary folder, no archive


def test_absolute_member_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "a.zip"
    archive.write_bytes(esc50_zip(extra={"/tmp/evil.txt": b"owned"}))
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(UnsafeArchive, match="absolute path"):
        extract_archive(archive, dest, "zip")


def test_symlink_member_in_tar_is_refused(server, tmp_path: Path) -> None:
    base, served = server
    link = tarfile.TarInfo("LibriSpeech/dev-clean/84/121123/link.flac")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    archive = librispeech_tgz(extra=[link])
    _serve(served, "/d.tar.gz", archive)
    with pytest.raises(UnsafeArchive, match="is a link"):
        download_dataset(
            "librispeech:dev-clean",
            tmp_path,
            url=f"{base}/d.tar.gz",
            sha256=sha256(archive),
            stream=io.StringIO(),
            **FAST,
        )
    assert not (tmp_path / "LibriSpeech" / "dev-clean").exists()
    assert leftovers(tmp_path) in ([], ["LibriSpeech"])  # the empty corpus folder may remain


def test_hardlink_and_device_members_in_tar_are_refused(tmp_path: Path) -> None:
    for kind, pattern in ((tarfile.LNKTYPE, "is a link"), (tarfile.CHRTYPE, "device or FIFO")):
        member = tarfile.TarInfo("LibriSpeech/x")
        member.type = kind
        member.linkname = "LibriSpeech/README.TXT"
        archive = tmp_path / f"t{kind!r}.tar.gz"
        archive.write_bytes(librispeech_tgz(extra=[member]))
        dest = tmp_path / f"out{kind!r}"
        dest.mkdir()
        with pytest.raises(UnsafeArchive, match=pattern):
            extract_archive(archive, dest, "tar.gz")


def test_symlink_member_in_zip_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        info = zipfile.ZipInfo("ESC-50-master/audio/link.wav")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        bundle.writestr(info, "/etc/passwd")
    archive = tmp_path / "l.zip"
    archive.write_bytes(buffer.getvalue())
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(UnsafeArchive, match="symbolic link"):
        extract_archive(archive, dest, "zip")
    assert not any(dest.rglob("*.wav"))


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("ESC-50-master/audio/a.wav", True),
        ("./ESC-50-master/x", True),
        ("a/../../b", False),
        ("../b", False),
        ("/abs", False),
        ("C:/windows", False),
        ("a\\..\\b", False),
        ("a\x00b", False),
    ],
)
def test_member_names(name: str, ok: bool) -> None:
    if ok:
        assert safe_member_path(name) is not None
    else:
        with pytest.raises(UnsafeArchive):
            safe_member_path(name)


def test_corrupt_archive_is_a_clear_error(server, tmp_path: Path) -> None:
    base, served = server
    data = b"PK\x03\x04 this is not really a zip"
    _serve(served, "/bad.zip", data)
    with pytest.raises(UnsafeArchive, match="corrupt archive"):
        download_dataset(
            "esc50", tmp_path, url=f"{base}/bad.zip", sha256=sha256(data), stream=io.StringIO()
        )
    assert leftovers(tmp_path) == []


def test_archive_without_the_listed_files_is_refused(server, tmp_path: Path) -> None:
    base, served = server
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("ESC-50-master/meta/esc50.csv", "filename,fold,target,category,esc10,"
                        "src_file,take\n1-1-A-0.wav,1,0,dog,True,1,A\n")  # fmt: skip
    data = buffer.getvalue()
    _serve(served, "/e.zip", data)
    with pytest.raises(UnsafeArchive, match="incomplete ESC-50"):
        download_dataset(
            "esc50", tmp_path, url=f"{base}/e.zip", sha256=sha256(data), stream=io.StringIO()
        )
    assert not (tmp_path / "ESC-50-master").exists()


# -- sources and the command line ---------------------------------------------------------------
def test_sources_are_pinned() -> None:
    assert get_source("librispeech") == SOURCES["librispeech:test-clean"]
    for source in SOURCES.values():
        assert len(source.sha256) == 64 and int(source.sha256, 16) >= 0
        assert source.url.startswith("https://")
    assert ESC50.url.endswith(f"{'33c8ce9eb2cf0b1c2f8bcf322eb349b6be34dbb6'}.zip")
    assert {s.subset for s in SOURCES.values() if s.subset} == {
        "dev-clean",
        "dev-other",
        "test-clean",
        "test-other",
        "train-clean-100",
        "train-clean-360",
        "train-other-500",
    }
    with pytest.raises(UnknownNameError, match="valid: librispeech, esc50"):
        get_source("vctk")


def test_local_file_as_mirror(tmp_path: Path) -> None:
    archive = tmp_path / "mirror.zip"
    archive.write_bytes(esc50_zip())
    result = download_dataset(
        "esc50",
        tmp_path / "root",
        url=str(archive),
        sha256=sha256(archive.read_bytes()),
        stream=io.StringIO(),
        keep_archive=True,
    )
    assert result.status == "downloaded"
    assert (tmp_path / "root" / ".downloads" / ESC50.filename).is_file()


def test_cli_download_twice(server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, served = server
    archive = librispeech_tgz("dev-clean")
    _serve(served, "/d.tar.gz", archive)
    argv = [
        "download",
        "librispeech:dev-clean",
        "--data-root",
        str(tmp_path),
        "--url",
        f"{base}/d.tar.gz",
        "--sha256",
        sha256(archive),
        "--no-progress",
    ]
    assert cli_main(argv) == 0
    assert cli_main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split("\t")[1] for line in lines] == ["downloaded", "already-downloaded"]


def test_cli_errors_exit_2(server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, served = server
    _serve(served, "/esc.zip", esc50_zip())
    code = cli_main(
        ["download", "esc50", "--data-root", str(tmp_path), "--url", f"{base}/esc.zip",
         "--no-progress", "--retries", "0"]
    )  # fmt: skip
    assert code == 2
    assert "checksum mismatch" in capsys.readouterr().err
    assert cli_main(["download", "esc50", "librispeech", "--url", "x"]) == 2
    assert cli_main(["download", "timit", "--data-root", str(tmp_path)]) == 2


def test_concurrent_download_of_the_same_target_is_refused(tmp_path: Path) -> None:
    fcntl = pytest.importorskip("fcntl")  # POSIX only; Windows has no advisory lock here
    (tmp_path / ".downloads").mkdir()
    with open(tmp_path / ".downloads" / "esc50.lock", "a+b") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        with pytest.raises(DownloadError, match="another download of it is running"):
            download_dataset("esc50", tmp_path, stream=io.StringIO(), **FAST)


def test_unwritable_data_root_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(DownloadError, match="esc50: "):
        download_dataset("esc50", tmp_path / "file" / "root", stream=io.StringIO(), **FAST)
