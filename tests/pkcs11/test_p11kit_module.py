"""The p11-kit .module file is installed only with -DPTOOL_INSTALL_P11KIT_MODULE=ON.

The default-off case installs the real build ($PTOOL_BUILD_DIR).  The opt-in case
configures fresh build trees and installs only the `p11kit` install component, which
needs nothing compiled, so the test stays fast."""

import os
from pathlib import Path

import pytest

from ptool_fixtures import REPO_ROOT, requires_tool, run

MODULE_FILE = Path("share/p11-kit/modules/tpm2-ptool-pkcs11.module")


def _configure(tmp_path, name, *options):
    build = tmp_path / name
    run(["cmake", "-S", REPO_ROOT, "-B", build, "-G", "Ninja", "-DPTOOL_ENABLE_TESTING=OFF",
         *options], timeout=300)
    return build


def test_default_install_has_no_module_file(tmp_path):
    requires_tool("cmake")
    build = os.environ.get("PTOOL_BUILD_DIR")
    if not build or not (Path(build) / "cmake_install.cmake").exists():
        pytest.skip("PTOOL_BUILD_DIR (a built tree) not set")
    cache = (Path(build) / "CMakeCache.txt").read_text()
    if "PTOOL_INSTALL_P11KIT_MODULE:BOOL=ON" in cache:
        pytest.skip("this build tree opted in")
    prefix = tmp_path / "prefix"
    run(["cmake", "--install", build, "--prefix", prefix], timeout=300)
    assert list(prefix.rglob("tpm2-ptool-pkcs11.so")), "the module itself is installed"
    assert not (prefix / MODULE_FILE).exists()
    assert not list(prefix.rglob("*.module"))


@pytest.mark.parametrize("option, expected", [("OFF", False), ("ON", True)])
def test_module_file_only_on_request(tmp_path, option, expected):
    requires_tool("cmake")
    requires_tool("ninja")
    build = _configure(tmp_path, f"build-{option}", f"-DPTOOL_INSTALL_P11KIT_MODULE={option}")
    prefix = tmp_path / "prefix"
    run(["cmake", "--install", build, "--prefix", prefix, "--component", "p11kit"])
    installed = prefix / MODULE_FILE
    assert installed.exists() == expected
    if expected:
        lines = [line.split(":", 1) for line in installed.read_text().splitlines()
                 if line and not line.startswith("#")]
        config = {k.strip(): v.strip() for k, v in lines}
        assert config["module"] == "tpm2-ptool-pkcs11.so"
