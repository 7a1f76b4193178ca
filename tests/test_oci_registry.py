"""OCI pull/push/run/cache against a real docker-registry on 127.0.0.1, through the installed CLI.

Each test gets its own FAASCTL_HOME (an empty OCI cache) and its own repository names, so tampering
with one registry blob cannot leak into another test."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

import pytest
import wasmtime
from conftest import run_cli
from oci_support import (  # noqa: F401  (fixtures used by name)
    PASSWORD,
    USER,
    auth_registry_fixture,
    proxy_fixture,
    registry_fixture,
    tar_gz,
)

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_GZ = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_GZ = "application/vnd.oci.image.layer.v1.tar+gzip"


def wasi_module(text: str) -> bytes:
    """A WASI command that writes ``text`` to stdout."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return wasmtime.wat2wasm(f"""(module
      (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 64) "{escaped}")
      (func (export "_start")
        (i32.store (i32.const 0) (i32.const 64))
        (i32.store (i32.const 4) (i32.const {len(text.encode())}))
        (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))""")


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    return {"FAASCTL_HOME": str(tmp_path / "home"), "DOCKER_CONFIG": str(tmp_path / "docker")}


def cli(*args: str, env: dict[str, str], input: str | None = None):
    return run_cli(*args, env=env, input=input, timeout=60)


def oci_dir(env: dict[str, str]) -> Path:
    return Path(env["FAASCTL_HOME"]) / "cache" / "oci"


def cached_blobs(env: dict[str, str]) -> list[str]:
    blobs = oci_dir(env) / "blobs" / "sha256"
    return sorted(p.name for p in blobs.iterdir()) if blobs.is_dir() else []


def push_file(tmp_path: Path, registry, env, repo: str, text: str, name: str = "fn.wasm") -> tuple[str, bytes]:
    data = wasi_module(text)
    path = tmp_path / name
    path.write_bytes(data)
    done = cli("push", str(path), f"oci://{registry.host}/{repo}", env=env)
    assert done.code == 0, done.stderr
    return done.stdout.strip(), data


# -- the happy paths -------------------------------------------------------------------------------------

def test_push_pull_run_and_cache_ls(tmp_path, registry, home):
    digest, data = push_file(tmp_path, registry, home, "hello:v1", '{"greeting":"hi"}')
    assert digest.startswith("sha256:") and len(digest) == 71

    pulled = cli("pull", f"oci://{registry.host}/hello:v1", "--format", "json", env=home)
    assert pulled.code == 0, pulled.stderr
    doc = pulled.json()
    assert doc["digest"] == digest
    assert doc["module_digest"] == "sha256:" + hashlib.sha256(data).hexdigest()
    assert doc["layer_media_type"] == "application/wasm" and doc["name"] == "fn.wasm"
    assert doc["annotations"]["dev.faasctl.abi"] == "wasi" and doc["annotations"]["dev.faasctl.runtime"] == "wasm"

    manifest = json.loads((oci_dir(home) / "blobs/sha256" / digest[7:]).read_bytes())
    assert manifest["config"]["mediaType"] == "application/vnd.wasm.config.v0+json"
    assert [layer["mediaType"] for layer in manifest["layers"]] == ["application/wasm"]

    by_digest = cli("pull", f"{registry.host}/hello@{digest}", env=home)
    assert by_digest.code == 0 and by_digest.stdout.strip() == digest

    ran = cli("run", f"oci://{registry.host}/hello:v1", "--format", "json", env=home)
    assert ran.code == 0, ran.stderr
    assert ran.json()["result"] == {"greeting": "hi"} and ran.json()["runtime"] == "wasm"

    listed = cli("cache", "ls", "--format", "json", env=home).json()
    assert [entry["digest"] for entry in listed["references"]] == [digest]
    assert f"{registry.host}/hello:v1" in cli("cache", "ls", env=home).stdout


def test_run_pulls_once_then_uses_the_cache(tmp_path, registry, proxy, home):
    push_file(tmp_path, registry, home, "once:v1", "once")
    ref = f"oci://{proxy.host}/once:v1"
    first = cli("run", ref, env=home)
    assert first.code == 0 and first.stdout.strip() == "once", first.stderr
    seen = len(proxy.state.requests)
    assert seen >= 2  # a manifest and a blob
    again = cli("run", ref, env=home)
    offline = cli("run", ref, "--offline", env=home)
    assert again.stdout.strip() == offline.stdout.strip() == "once"
    assert len(proxy.state.requests) == seen  # no request at all
    always = cli("run", ref, "--pull", "always", env=home)
    assert always.code == 0
    assert any("/manifests/v1" in r for r in proxy.state.requests[seen:])


def test_offline_and_never_without_a_cache_entry(registry, home):
    for flags in (["--offline"], ["--pull", "never"]):
        done = cli("run", f"oci://{registry.host}/absent:v1", *flags, env=home)
        assert done.code == 7
        assert "not in the local cache" in done.stderr and "Traceback" not in done.stderr


def test_docker_and_oci_from_scratch_images(tmp_path, registry, home):
    data = wasi_module("from scratch")
    for repo, manifest_type, layer_type in (("scratch-docker", DOCKER_MANIFEST, DOCKER_GZ),
                                            ("scratch-oci", "application/vnd.oci.image.manifest.v1+json", OCI_GZ)):
        layer = tar_gz([("etc/os-release", b"x"), ("app/fn.wasm", data)])
        registry.push_image(repo, "v1", [(layer_type, layer)], manifest_type=manifest_type,
                            config_type="application/vnd.docker.container.image.v1+json")
        done = cli("pull", f"{registry.host}/{repo}:v1", "--format", "json", env=home)
        assert done.code == 0, done.stderr
        assert done.json()["module_digest"] == "sha256:" + hashlib.sha256(data).hexdigest()
        ran = cli("run", f"oci://{registry.host}/{repo}:v1", env=home)
        assert ran.stdout.strip() == "from scratch", ran.stderr


def test_content_layer_type_and_multi_arch_index(registry, home):
    data = wasi_module("indexed")
    wasm_digest = registry.push_image("multi", "wasm-only", [("application/vnd.wasm.content.layer.v1+wasm", data)])
    linux = registry.push_image("multi", "linux-only", [(OCI_GZ, tar_gz([("bin/sh", b"elf")]))])
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": linux, "size": 1,
         "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": wasm_digest, "size": 1,
         "platform": {"os": "wasip1", "architecture": "wasm"}},
    ]}
    registry.push_manifest("multi", "v1", index, "application/vnd.oci.image.index.v1+json")
    ran = cli("run", f"oci://{registry.host}/multi:v1", env=home)
    assert ran.code == 0 and ran.stdout.strip() == "indexed", ran.stderr
    index["manifests"] = index["manifests"][:1]
    registry.push_manifest("multi", "linux", index, "application/vnd.oci.image.index.v1+json")
    done = cli("pull", f"{registry.host}/multi:linux", env=home)
    assert done.code == 7 and "no wasi/wasm platform entry (platforms: linux/amd64)" in done.stderr


# -- auth ------------------------------------------------------------------------------------------------

def test_basic_auth_registry(tmp_path, auth_registry, home):
    data = tmp_path / "auth.wasm"
    data.write_bytes(wasi_module("secret"))
    ref = f"oci://{auth_registry.host}/private:v1"
    denied = cli("push", str(data), ref, env=home)
    assert denied.code == 7 and "401" in denied.stderr and "--username" in denied.stderr
    pushed = cli("push", str(data), ref, "--username", USER, "--password-stdin", input=PASSWORD + "\n", env=home)
    assert pushed.code == 0, pushed.stderr
    anonymous = cli("pull", ref, env=home)
    assert anonymous.code == 7 and "401 unauthorized" in anonymous.stderr
    wrong = cli("pull", ref, "-u", USER, "--password-stdin", input="nope\n", env=home)
    assert wrong.code == 7 and "wrong credentials" in wrong.stderr
    ok = cli("pull", ref, "-u", USER, "--password-stdin", input=PASSWORD + "\n", env=home)
    assert ok.code == 0 and ok.stdout.strip() == pushed.stdout.strip()
    config = Path(home["DOCKER_CONFIG"])
    config.mkdir()
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    (config / "config.json").write_text(json.dumps({"auths": {auth_registry.host: {"auth": token}}}))
    ran = cli("run", ref, "--pull", "always", env=home)
    assert ran.code == 0 and ran.stdout.strip() == "secret", ran.stderr


def test_anonymous_bearer_token_flow(tmp_path, registry, proxy, home):
    push_file(tmp_path, registry, home, "tokened:v1", "bearer ok")
    proxy.state.mode = "bearer"
    done = cli("run", f"oci://{proxy.host}/tokened:v1", env=home)
    assert done.code == 0 and done.stdout.strip() == "bearer ok", done.stderr
    assert proxy.state.token_requests[0] == {"scope": "repository:tokened:pull", "service": "faasctl-test"}


# -- faults: each exit 7 with one clear line ----------------------------------------------------------------

def assert_artifact_error(done, *needles: str) -> None:
    assert done.code == 7, (done.code, done.stderr)
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1, done.stderr
    for needle in needles:
        assert needle in done.stderr, done.stderr


def test_unreachable_registries(home):
    assert_artifact_error(cli("pull", "oci://127.0.0.1:1/x:v1", env=home), "connection refused")
    assert_artifact_error(cli("run", "oci://no-such-host.invalid/x:v1", env=home), "unknown host")


def test_unknown_tag_and_repository(tmp_path, registry, home):
    push_file(tmp_path, registry, home, "tagged:v1", "t")
    assert_artifact_error(cli("pull", f"{registry.host}/tagged:v2", env=home), "unknown tag 'v2'", "MANIFEST_UNKNOWN")
    assert_artifact_error(cli("pull", f"{registry.host}/nobody-here:v1", env=home), "unknown tag 'v1'")


def test_manifest_digest_mismatch(tmp_path, registry, proxy, home):
    digest, _ = push_file(tmp_path, registry, home, "tampered-manifest:v1", "m")
    proxy.state.mode = "tamper-manifest"
    assert_artifact_error(cli("pull", f"{proxy.host}/tampered-manifest:v1", env=home),
                          "manifest digest mismatch", f"the registry says {digest}")
    assert_artifact_error(cli("pull", f"{proxy.host}/tampered-manifest@{digest}", env=home),
                          "manifest digest mismatch", f"asked for {digest}")
    assert cached_blobs(home) == []


def test_blob_tampered_on_the_registry_disk(tmp_path, registry, home):
    _, data = push_file(tmp_path, registry, home, "tampered-blob:v1", "original")
    module = "sha256:" + hashlib.sha256(data).hexdigest()
    stored = registry.blob_data_path(module)
    stored.write_bytes(stored.read_bytes().replace(b"original", b"evil!!!!"))
    done = cli("run", f"oci://{registry.host}/tampered-blob:v1", env=home)
    assert_artifact_error(done, "digest mismatch", module)
    assert module[7:] not in cached_blobs(home)
    assert not any(name.startswith(".partial") for name in cached_blobs(home))


def test_interrupted_download_caches_nothing(tmp_path, registry, proxy, home):
    _, data = push_file(tmp_path, registry, home, "cut:v1", "x" * 5000)
    proxy.state.mode = "truncate-blob"
    done = cli("pull", f"{proxy.host}/cut:v1", env=home)
    assert_artifact_error(done, "interrupted")
    assert hashlib.sha256(data).hexdigest() not in cached_blobs(home)
    assert not any(name.startswith(".partial") for name in cached_blobs(home))
    proxy.state.mode = "pass"
    assert cli("run", f"oci://{proxy.host}/cut:v1", env=home).stdout.strip() == "x" * 5000


def test_size_cap(registry, home):
    big = wasi_module("big") + b"\0" * 8192  # trailing bytes: the cap is checked before any parsing
    registry.push_image("huge", "v1", [("application/wasm", big)])
    assert_artifact_error(cli("pull", f"{registry.host}/huge:v1", "--max-size", "4KiB", env=home),
                          "past the size cap")
    assert hashlib.sha256(big).hexdigest() not in cached_blobs(home)


def test_hostile_image_layers(registry, home):
    wasm = wasi_module("h")
    cases = {
        "zero-wasm": ([(OCI_GZ, tar_gz([("readme.txt", b"hi")]))], "no .wasm file"),
        "two-wasm": ([(OCI_GZ, tar_gz([("a.wasm", wasm), ("b.wasm", wasm)]))], "more than one .wasm"),
        "dotdot": ([(OCI_GZ, tar_gz([("../../../../escaped.wasm", wasm)]))], "outside the layer"),
        "absolute": ([(OCI_GZ, tar_gz([("/tmp/escaped.wasm", wasm)]))], "absolute path"),
        "not-wasm-type": ([("application/vnd.oci.image.layer.v1.tar+zstd", b"zz")], "no WebAssembly layer"),
        "not-wasm-bytes": ([("application/wasm", b"#!/bin/sh\necho hi\n")], "not a WebAssembly module"),
        "two-layers": ([(OCI_GZ, tar_gz([("a.wasm", wasm)])), (OCI_GZ, tar_gz([("b", b"")]))], "2 layers"),
    }
    for repo, (layers, message) in cases.items():
        registry.push_image(repo, "v1", layers)
        assert_artifact_error(cli("run", f"oci://{registry.host}/{repo}:v1", env=home), message)
    assert not Path(home["FAASCTL_HOME"]).parent.joinpath("escaped.wasm").exists()
    assert not (oci_dir(home) / "resolved").exists()


def test_corrupt_cache_entry(tmp_path, registry, home):
    _, data = push_file(tmp_path, registry, home, "corrupt:v1", "fine")
    ref = f"oci://{registry.host}/corrupt:v1"
    assert cli("run", ref, env=home).code == 0
    blob = oci_dir(home) / "blobs/sha256" / hashlib.sha256(data).hexdigest()
    blob.write_bytes(blob.read_bytes()[:-3] + b"bad")
    assert_artifact_error(cli("run", ref, "--offline", env=home), "corrupt", "--offline")
    healed = cli("run", ref, env=home)  # allowed to pull: fetched again and verified
    assert healed.code == 0 and healed.stdout.strip() == "fine", healed.stderr
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name


def test_cache_prune(tmp_path, registry, home):
    push_file(tmp_path, registry, home, "prune:v1", "kept")
    assert cli("pull", f"{registry.host}/prune:v1", env=home).code == 0
    blobs = oci_dir(home) / "blobs/sha256"
    before = cached_blobs(home)
    stray = b"unreferenced"
    (blobs / hashlib.sha256(stray).hexdigest()).write_bytes(stray)
    (blobs / ".partial-123").write_bytes(b"half")
    done = cli("cache", "prune", env=home)
    assert done.code == 0 and "removed 2 blobs" in done.stderr
    assert cached_blobs(home) == before
    assert cli("run", f"oci://{registry.host}/prune:v1", "--offline", env=home).stdout.strip() == "kept"
    assert cli("cache", "prune", "--all", env=home).code == 0
    assert not oci_dir(home).exists()


def test_push_refuses_bad_files(tmp_path, registry, home):
    text = tmp_path / "notes.wasm"
    text.write_text("hello")
    done = cli("push", str(text), f"{registry.host}/bad:v1", env=home)
    assert done.code == 2 and "not a WebAssembly module" in done.stderr
    assert cli("push", str(tmp_path / "missing.wasm"), f"{registry.host}/bad:v1", env=home).code == 2
    assert os.environ.get("FAASCTL_HOME") != home["FAASCTL_HOME"]


def test_unwritable_cache_is_one_line_and_exit_7(tmp_path, registry, home):
    # a path component that is a file stands in for a read-only cache (the tests may run as root)
    push_file(tmp_path, registry, home, "rocache:v1", "fine")
    oci_dir(home).parent.mkdir(parents=True)
    oci_dir(home).write_text("not a directory")
    for args in (("pull", f"{registry.host}/rocache:v1"), ("run", f"oci://{registry.host}/rocache:v1")):
        done = cli(*args, env=home)
        assert done.code == 7, done.stderr
        assert "cannot write the OCI cache" in done.stderr and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    done = cli("cache", "prune", "--all", env=home)  # never claims to have removed what it could not
    assert done.code == 7 and "cannot prune the OCI cache" in done.stderr and oci_dir(home).is_file()
    oci_dir(home).unlink()
    # a cache whose record directory cannot be written: the blobs are fine, the pull still says why it failed
    assert cli("pull", f"{registry.host}/rocache:v1", env=home).code == 0
    resolved = oci_dir(home) / "resolved"
    for record in resolved.iterdir():
        record.unlink()
    resolved.rmdir()
    resolved.write_text("not a directory")
    done = cli("pull", f"{registry.host}/rocache:v1", env=home)
    assert done.code == 7 and "cannot write the OCI cache" in done.stderr, done.stderr
    assert not list((oci_dir(home) / "blobs/sha256").glob(".partial-*"))
