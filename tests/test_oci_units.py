"""Pure parts of the OCI support: references, the blob store, tar layers, docker config, auth challenges."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from oci_support import tar_gz

from faasctl.errors import ArtifactError, UsageError
from faasctl.oci.cache import BlobStore
from faasctl.oci.client import parse_challenge
from faasctl.oci.credentials import lookup
from faasctl.oci.layers import choose_layer, extract_wasm
from faasctl.oci.reference import parse_reference

WASM = b"\0asm\x01\0\0\0"
DIGEST = "sha256:" + "ab" * 32


def test_references():
    ref = parse_reference("oci://127.0.0.1:5000/authentication-wasm:v4")
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == ("127.0.0.1:5000", "authentication-wasm", "v4", None)
    assert ref.is_loopback and ref.reference == "v4"
    pinned = parse_reference(f"localhost:5000/team/fn@{DIGEST}")
    assert pinned.reference == DIGEST and pinned.tag is None and pinned.is_loopback
    both = parse_reference(f"ghcr.io/o/fn:1.0@{DIGEST}")
    assert both.tag == "1.0" and both.reference == DIGEST and not both.is_loopback
    hub = parse_reference("hello")
    assert (hub.registry, hub.repository, hub.tag, hub.api_host) == ("docker.io", "library/hello", "latest",
                                                                     "registry-1.docker.io")
    assert parse_reference("[::1]:5000/x:y").is_loopback


@pytest.mark.parametrize("bad", ["", "oci://", "127.0.0.1:5000/UPPER:v1", "x@sha256:1234", "r.io/x:bad tag",
                                 "127.0.0.1:99999/x", "127.0.0.1:0/x", "127.0.0.1:abc/x", "[::1]:/x", "r.io:²/x"])
def test_bad_references_are_usage_errors(bad):
    with pytest.raises(UsageError):
        parse_reference(bad)


def test_store_writes_only_verified_blobs(tmp_path: Path):
    store = BlobStore(tmp_path)
    data = b"hello blob"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with pytest.raises(ArtifactError, match="digest mismatch"):
        store.write(digest, [b"tampered!!"], max_size=100)
    with pytest.raises(ArtifactError, match="size cap"):
        store.write(digest, [data, data], max_size=12)

    def interrupted():
        yield data[:4]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.write(digest, interrupted(), max_size=100)
    assert list(store.blobs.iterdir()) == []  # no partial file, nothing under the digest name
    store.write(digest, [data[:3], data[3:]], max_size=100, expected_size=len(data))
    assert store.read_verified(digest) == data
    store.path(digest).write_bytes(b"flipped")
    with pytest.raises(ArtifactError, match="corrupt"):
        store.read_verified(digest)
    assert not store.has(digest)


def _layer_file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "layer"
    path.write_bytes(data)
    return path


GZ = "application/vnd.oci.image.layer.v1.tar+gzip"


def test_tar_layer_with_one_wasm(tmp_path: Path):
    path = _layer_file(tmp_path, tar_gz([("etc/readme.txt", b"hi"), ("app/fn.wasm", WASM)]))
    assert extract_wasm(path, GZ, 1 << 20, "layer") == ("fn.wasm", WASM)


@pytest.mark.parametrize(("entries", "symlinks", "message"), [
    ([("readme.txt", b"hi")], [], "no .wasm file"),
    ([("a.wasm", WASM), ("b.wasm", WASM)], [], "more than one .wasm"),
    ([("../../escape.wasm", WASM)], [], "outside the layer"),
    ([("/abs/fn.wasm", WASM)], [], "absolute path"),
    ([("fn.wasm", WASM)], [("link", "../../../etc/passwd")], "outside the layer"),
    ([("fn.wasm", b"not wasm at all")], [], "not a WebAssembly module"),
])
def test_hostile_tar_layers(tmp_path: Path, entries, symlinks, message):
    path = _layer_file(tmp_path, tar_gz(entries, symlinks=symlinks))
    with pytest.raises(ArtifactError, match=message):
        extract_wasm(path, GZ, 1 << 20, "layer")
    assert not (tmp_path.parent / "escape.wasm").exists()


def test_gzip_bomb_stops_at_the_cap(tmp_path: Path):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        info = tarfile.TarInfo("fn.wasm")
        info.size = 4 << 20
        archive.addfile(info, io.BytesIO(WASM + b"\0" * (info.size - len(WASM))))
    packed = gzip.compress(raw.getvalue())
    assert len(packed) < 64 * 1024
    with pytest.raises(ArtifactError, match="size cap"):
        extract_wasm(_layer_file(tmp_path, packed), GZ, 1 << 20, "layer")


def test_layer_choice():
    wasm = {"mediaType": "application/wasm", "digest": DIGEST, "size": 8}
    assert choose_layer({"layers": [wasm]}, "x").media_type == "application/wasm"
    with pytest.raises(ArtifactError, match="2 WebAssembly layers"):
        choose_layer({"layers": [wasm, wasm]}, "x")
    with pytest.raises(ArtifactError, match="no WebAssembly layer"):
        choose_layer({"layers": [{**wasm, "mediaType": "text/plain"}]}, "x")
    tar = {**wasm, "mediaType": GZ}
    with pytest.raises(ArtifactError, match="2 layers"):
        choose_layer({"layers": [tar, tar]}, "x")
    with pytest.raises(ArtifactError, match="no layers"):
        choose_layer({"layers": []}, "x")


def test_docker_config_credentials(tmp_path: Path):
    auth = base64.b64encode(b"ada:pw:with:colons").decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {
        "http://127.0.0.1:5000/v1/": {"auth": auth},
        "https://index.docker.io/v1/": {"username": "hub", "password": "hpw"},
    }}))
    found = lookup(tmp_path, "127.0.0.1:5000")
    assert (found.username, found.password) == ("ada", "pw:with:colons")
    assert lookup(tmp_path, "docker.io").username == "hub"
    assert lookup(tmp_path, "other.io") is None
    assert lookup(tmp_path / "missing", "127.0.0.1:5000") is None
    (tmp_path / "config.json").write_text("{not json")
    assert lookup(tmp_path, "127.0.0.1:5000") is None


def test_auth_challenge_parsing():
    scheme, params = parse_challenge('Bearer realm="https://auth.io/token",service="registry.io",'
                                     'scope="repository:a/b:pull"')
    assert scheme == "bearer"
    assert params == {"realm": "https://auth.io/token", "service": "registry.io", "scope": "repository:a/b:pull"}
    assert parse_challenge('Basic realm="x"') == ("basic", {"realm": "x"})


def test_https_by_default_plain_http_only_for_loopback_or_insecure():
    from faasctl.oci.client import RegistryClient

    assert RegistryClient(parse_reference("registry.example.com/team/fn:v1")).base == "https://registry.example.com"
    assert RegistryClient(parse_reference("hello")).base == "https://registry-1.docker.io"
    assert RegistryClient(parse_reference("127.0.0.1:5000/fn")).base == "http://127.0.0.1:5000"
    assert RegistryClient(parse_reference("localhost:5000/fn")).base == "http://localhost:5000"
    insecure = RegistryClient(parse_reference("10.0.0.7:5000/fn"), insecure=True)
    assert insecure.base == "http://10.0.0.7:5000"


def test_credentials_never_show_the_password():
    from faasctl.oci.credentials import Credentials

    assert "s3cret" not in repr(Credentials("ada", "s3cret"))


def test_cached_oci_runs_do_not_load_the_network_stack():
    import subprocess
    import sys

    code = ("import sys, faasctl.oci.resolve; "
            "print(any(m in sys.modules for m in ('http.client', 'ssl', 'urllib.request', 'rich')))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
