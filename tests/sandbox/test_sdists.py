"""Dependencies without a usable wheel: uv's refusal read, the sdist chosen and fetched as a file from a
simple API on loopback, its build requirements read as data, and the wheel built in the sandbox (never on
the host) and copied out safely."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from repomind.sandbox import built_wheels, sdists, wheelhouse
from repomind.sandbox.errors import EnvironmentSetupError
from repomind.sandbox.limits import Limits
from repomind.sandbox.requirements import RequirementRefusedError
from repomind.sandbox.setup_box import SetupBox
from repomind.sandbox.types import EnvironmentSpec

UV_DOCOPT = """error: No solution found when resolving dependencies
  cause: Because docopt==0.6.2 has no usable wheels and only docopt<=0.6.2 is available, we can conclude
         that docopt>=0.6.2 cannot be used.
hint: Wheels are required for `docopt` because building from source is disabled for all packages"""
UV_LAZY = (
    "cause: Because lazy-object-proxy>=1.4.0 has no usable wheels and you require lazy-object-proxy>=1.4.0"
)


def _tar(path: Path, files: dict[str, str], links: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return path


def test_uv_refusals_name_the_wheel_less_projects() -> None:
    assert sdists.wheel_less(UV_DOCOPT) == {"docopt": SpecifierSet("==0.6.2")}
    assert sdists.wheel_less(UV_LAZY) == {"lazy-object-proxy": SpecifierSet(">=1.4.0")}
    assert sdists.wheel_less("error: some other failure") == {}


def test_the_newest_fitting_sdist_is_chosen() -> None:
    def entry(
        version: str, uploaded: str, requires: str | None = None, yanked: bool = False
    ) -> dict[str, Any]:
        return {
            "filename": f"pkg-{version}.tar.gz",
            "upload-time": uploaded,
            "requires-python": requires,
            "yanked": yanked,
        }

    files = [
        entry("1.0", "2020-01-01T00:00:00Z"),
        entry("1.1", "2021-01-01T00:00:00Z"),
        entry("1.2", "2023-01-01T00:00:00Z"),
        entry("1.3", "2024-01-01T00:00:00Z", requires=">=3.12"),
        entry("1.4", "2024-06-01T00:00:00Z", yanked=True),
        {"filename": "pkg-2.0-py3-none-any.whl", "upload-time": "2024-01-01T00:00:00Z"},
        {"filename": "../evil-9.0.tar.gz"},
    ]
    pick = sdists.choose
    assert pick(files, "pkg", SpecifierSet(), "3.11", None)["filename"] == "pkg-1.2.tar.gz"  # type: ignore[index]
    assert (
        pick(files, "pkg", SpecifierSet(), "3.11", "2022-06-05T11:29:34+02:00")["filename"]
        == "pkg-1.1.tar.gz"
    )  # type: ignore[index]
    assert pick(files, "pkg", SpecifierSet("<1.1"), "3.11", None)["filename"] == "pkg-1.0.tar.gz"  # type: ignore[index]
    assert pick(files, "pkg", SpecifierSet(), "3.11", None, [Version("1.2")])["filename"] == "pkg-1.1.tar.gz"  # type: ignore[index]
    assert pick(files, "pkg", SpecifierSet(">5"), "3.11", None) is None


def test_build_requirements_are_read_from_the_archive_as_data_and_checked(tmp_path: Path) -> None:
    legacy = _tar(tmp_path / "a-1.0.tar.gz", {"a-1.0/setup.py": "raise SystemExit('ran')\n"})
    assert sdists.build_requires(legacy) == list(sdists.LEGACY_BUILD_REQUIRES)
    modern = _tar(
        tmp_path / "b-1.0.tar.gz",
        {
            "b-1.0/pyproject.toml": "[build-system]\n"
            + 'requires = ["setuptools>=45", "setuptools_scm[toml]>=6"]\n'
        },
    )
    assert sdists.build_requires(modern) == ["setuptools>=45", "setuptools_scm[toml]>=6"]
    hostile = _tar(
        tmp_path / "c-1.0.tar.gz",
        {"c-1.0/pyproject.toml": '[build-system]\nrequires = ["x @ file:///etc/passwd"]\n'},
    )
    with pytest.raises(RequirementRefusedError):
        sdists.build_requires(hostile)
    linked = _tar(tmp_path / "d-1.0.tar.gz", {}, links={"d-1.0/pyproject.toml": "/etc/passwd"})
    assert sdists.build_requires(linked) == list(sdists.LEGACY_BUILD_REQUIRES)  # a link is not read
    (tmp_path / "e-1.0.tar.gz").write_bytes(b"not an archive")
    with pytest.raises(EnvironmentSetupError, match="not a readable source archive"):
        sdists.build_requires(tmp_path / "e-1.0.tar.gz")


def test_only_plain_wheel_files_are_copied_out_of_the_container(tmp_path: Path) -> None:
    archive = _tar(
        tmp_path / "out.tar",
        {"built/ok-1.0-py3-none-any.whl": "zip", "built/notes.txt": "x", "built/bad name.whl": "x"},
        links={"built/link-1.0-py3-none-any.whl": "/etc/passwd"},
    )
    out = tmp_path / "out"
    out.mkdir()
    with archive.open("rb") as handle, tarfile.open(fileobj=handle, mode="r:gz") as tar:
        plain = io.BytesIO()
        with tarfile.open(fileobj=plain, mode="w") as copy:
            for member in tar:
                copy.addfile(member, tar.extractfile(member) if member.isreg() else None)
    plain.seek(0)
    written = built_wheels.extract(plain, out)
    assert [p.name for p in written] == ["ok-1.0-py3-none-any.whl"]
    assert sorted(p.name for p in out.iterdir()) == ["ok-1.0-py3-none-any.whl"]


# -- a wheel-less dependency on a loopback index, built in the sandbox ---------------------------------


@pytest.fixture
def loopback_index(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A PEP 691 simple API on 127.0.0.1 serving the files put in the yielded directory."""
    files = tmp_path / "index-files"
    files.mkdir()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = [p for p in self.path.split("/") if p]
            if len(parts) == 2 and parts[0] == "simple":
                entries = [
                    {
                        "filename": f.name,
                        "url": f"/files/{f.name}",
                        "hashes": {"sha256": hashlib.sha256(f.read_bytes()).hexdigest()},
                        "upload-time": "2020-01-01T00:00:00Z",
                    }
                    for f in sorted(files.iterdir())
                    if f.name.startswith(parts[1].replace("-", "_") + "-")
                    or f.name.startswith(parts[1] + "-")
                ]
                if not entries:
                    self.send_error(404)
                    return
                body = json.dumps(
                    {"meta": {"api-version": "1.1"}, "name": parts[1], "files": entries}
                ).encode()
                self._send(body, "application/vnd.pypi.simple.v1+json")
            elif len(parts) == 2 and parts[0] == "files" and (files / parts[1]).is_file():
                self._send((files / parts[1]).read_bytes(), "application/octet-stream")
            else:
                self.send_error(404)

        def _send(self, body: bytes, kind: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple", files
    finally:
        server.shutdown()


@pytest.mark.docker
def test_a_wheel_less_dependency_is_fetched_as_an_sdist_and_built_in_the_sandbox(
    docker_client: Any, make_repo: Any, tmp_path: Path, loopback_index: tuple[str, Path]
) -> None:
    """uv --no-build refuses the sdist-only release; its sdist is fetched as a file from the index and
    built by pip in a network-less container (its setup.py would leave a marker on the host if it ran
    there); the wheel, copied out, lets uv resolve, and it joins the wheelhouse."""
    index, files = loopback_index
    marker = tmp_path / "marker-built-on-host"
    setup_py = (
        "import os\n"
        f"if os.path.isdir({str(tmp_path)!r}):\n    open({str(marker)!r}, 'w').write('ran')\n"
        "from setuptools import setup\n"
        "setup(name='wheelless', version='0.1', py_modules=['wheelless'])\n"
    )
    _tar(
        files / "wheelless-0.1.tar.gz",
        {
            "wheelless-0.1/setup.py": setup_py,
            "wheelless-0.1/wheelless.py": "IN_SANDBOX = True\n",
            "wheelless-0.1/PKG-INFO": "Metadata-Version: 1.0\nName: wheelless\nVersion: 0.1\n",
        },
    )
    wheels = tmp_path / "wheelhouse"
    tools = wheelhouse.build_tools(wheels, python="3.11", glibc=(2, 36), log=lambda _l: None)
    box = SetupBox(
        docker_client,
        "repomind-sandbox:py3.11",
        make_repo({"README.md": "x\n"}),
        EnvironmentSpec(f"fixture-wheelless-{time.time_ns()}"),
        Limits(),
        600.0,
        "0.0.0",
    )
    built: list[str] = []

    def build(sdist_files: list[Path]) -> None:
        built.extend(f.name for f in sdist_files)
        for sdist in sdist_files:  # the build requirements come from PyPI, as in a real setup
            wheelhouse.download(sdists.build_requires(sdist), wheels, python="3.11", glibc=(2, 36))
        box.build_wheels(wheels, tools, sdist_files, wheelhouse.built_dir(wheels))

    with pytest.raises(EnvironmentSetupError, match="no usable wheels"):
        wheelhouse.download(["wheelless"], wheels, python="3.11", index=index)  # no builder: refused
    pins = wheelhouse.download(["wheelless"], wheels, python="3.11", index=index, build=build)
    assert pins == ["wheelless==0.1"]
    assert built == ["wheelless-0.1.tar.gz"]
    assert not marker.exists()
    assert [p.name for p in wheels.glob("wheelless-*")] == ["wheelless-0.1-py3-none-any.whl"]


def test_a_dated_resolution_widens_a_wheel_less_project_a_year_at_a_time() -> None:
    today = "2025-01-01T00:00:00Z"
    assert wheelhouse._year_later("2022-06-05T11:29:34+02:00", today) == "2023-06-05T09:29:34Z"
    assert wheelhouse._year_later("2024-06-05T00:00:00Z", today) == today


def _wheel(path: Path, requires: list[str]) -> Path:
    import zipfile

    name, version = path.name.split("-")[:2]
    lines = "".join(f"Requires-Dist: {r}\n" for r in requires)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            f"{name}-{version}.dist-info/METADATA",
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{lines}",
        )
    return path


def test_a_built_wheel_may_not_point_uv_at_a_path_or_url_on_the_host(tmp_path: Path) -> None:
    good = _wheel(tmp_path / "ok-1.0-py3-none-any.whl", ["six>=1", 'tomli; python_version < "3.11"'])
    built_wheels.check_metadata(good, ["ok"])
    for hostile in ("x @ file:///etc/passwd", "y @ https://example.invalid/y-1.tar.gz"):
        bad = _wheel(tmp_path / "bad-1.0-py3-none-any.whl", ["six", hostile])
        with pytest.raises(RequirementRefusedError, match=r"Requires-Dist of bad-1\.0"):
            built_wheels.check_metadata(bad, ["bad"])
    with pytest.raises(EnvironmentSetupError, match="not asked for"):
        built_wheels.check_metadata(good, ["other"])


def test_a_project_whose_newest_release_is_yanked_is_pinned_to_it() -> None:
    files: list[dict[str, object]] = [
        {"filename": "types_pkg_resources-0.1.2-py3-none-any.whl", "yanked": "old"},
        {"filename": "types_pkg_resources-0.1.3-py2.py3-none-any.whl", "yanked": "Use types-setuptools"},
        {"filename": "types-pkg_resources-0.1.3.tar.gz", "yanked": "Use types-setuptools"},
    ]
    assert sdists.yanked(files, "types-pkg-resources", SpecifierSet(), None) == Version("0.1.3")
    files.append({"filename": "types_pkg_resources-0.1.4-py3-none-any.whl", "yanked": False})
    assert sdists.yanked(files, "types-pkg-resources", SpecifierSet(), None) is None
    assert sdists.yanked(files, "types-pkg-resources", SpecifierSet("<0.1.4"), None) == Version("0.1.3")


def test_uv_refusals_name_what_the_date_filtered() -> None:
    text = (
        "cause: Because only setuptools<=3.1 is available and you require setuptools>=40.8.0 ...\n"
        "hint: `setuptools` was filtered by `exclude-newer` to only include packages uploaded before 2014"
    )
    assert sdists.too_new(text) == ["setuptools"]
    assert sdists.wheel_less(text) == {}
