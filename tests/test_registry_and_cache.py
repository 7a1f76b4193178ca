"""The runtime registry (descriptor validation, lookup) and the caches (compile cache, binary pins)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import make_engine
from runners import run_source

from faasctl.engine import artifact_from_bytes
from faasctl.errors import ArtifactError, UsageError
from faasctl.registry import Registry, descriptor_from_mapping

JS_YAML = Path(__file__).resolve().parent.parent / "runtimes" / "js.yaml"


def test_registry_lists_shipped_runtimes(engine):
    names = engine.registry.names()
    assert {"js", "python"} <= set(names)
    assert engine.registry.get("JavaScript").name == "js"
    assert engine.registry.for_ending(".py").name == "python"


def test_runtime_selection_order(engine):
    artifact = artifact_from_bytes("thing.txt", b"return 1")
    with pytest.raises(UsageError) as info:
        engine.select_runtime(artifact)
    assert "known runtimes" in info.value.one_line() and "--runtime" in info.value.one_line()
    assert engine.select_runtime(artifact, "js").name == "js"
    typed = artifact_from_bytes("thing.bin", b"", media_type="text/x-python")
    assert engine.select_runtime(typed).name == "python"
    with pytest.raises(UsageError) as info:
        engine.registry.get("cobol")
    assert "js" in info.value.one_line()


@pytest.mark.parametrize(("data", "complaint"), [
    ([1, 2], "expected a mapping"),
    ({"name": "x", "endings": [".x"]}, "missing adapter"),
    ({"name": "x", "adapter": "nocolon", "endings": [".x"]}, "module:Class"),
    ({"name": "x", "adapter": "a:B", "endings": "x"}, "endings must be a list"),
    ({"name": "x", "adapter": "a:B", "endings": ["x"]}, "start with '.'"),
    ({"name": "x", "adapter": "a:B", "endings": [".x"], "colour": "red"}, "unknown keys colour"),
    ({"name": "x", "adapter": "a:B", "endings": [".x"], "binary": {"path": "p"}}, "sha256 pin"),
])
def test_descriptor_validation(data, complaint):
    with pytest.raises(ArtifactError) as info:
        descriptor_from_mapping(data, "bad.yaml")
    assert "bad.yaml" in info.value.message and complaint in info.value.message


def test_invalid_yaml_names_the_file(tmp_path):
    (tmp_path / "broken.yaml").write_text("name: [unclosed\n")
    with pytest.raises(ArtifactError) as info:
        Registry.load(None, (tmp_path,))
    assert "broken.yaml" in info.value.message and "not valid YAML" in info.value.message


def test_extra_directory_overrides_by_name(tmp_path):
    text = JS_YAML.read_text().replace("description: JavaScript", "description: Overridden JavaScript")
    (tmp_path / "js.yaml").write_text(text)
    registry = Registry.load(None, (tmp_path,))
    assert registry.get("js").description.startswith("Overridden")
    assert registry.names().count("js") == 1


def _override_js_binary(tmp_path: Path, binary_file: Path) -> Path:
    runtimes = tmp_path / "runtimes"
    runtimes.mkdir()
    text = JS_YAML.read_text().replace("  path: qjs-wasi-reactor/qjs-wasi-reactor.wasm", f"  file: {binary_file}")
    for name in ("js_api.js", "js_script.js", "js_module.js"):
        shutil.copy(JS_YAML.parent / name, runtimes / name)
    (runtimes / "js.yaml").write_text(text)
    return runtimes


def test_corrupt_runtime_binary_is_an_artifact_error(engine, tmp_path):
    from faasctl.wasm.binaries import locate_binary

    real = locate_binary(engine.registry.get("js"))
    corrupt = tmp_path / "qjs.wasm"
    data = bytearray(real.read_bytes())
    data[1000] ^= 0xFF
    corrupt.write_bytes(bytes(data))
    broken = make_engine(tmp_path / "home", runtime_dirs=(_override_js_binary(tmp_path, corrupt),))
    with pytest.raises(ArtifactError) as info:
        run_source(broken, "return 1", "a.js")
    assert info.value.exit_code == 7
    assert "corrupt" in info.value.message and "pip install --force-reinstall" in info.value.one_line()


def test_missing_runtime_binary_is_an_artifact_error(tmp_path):
    broken = make_engine(tmp_path / "home", runtime_dirs=(_override_js_binary(tmp_path, tmp_path / "gone.wasm"),))
    with pytest.raises(ArtifactError) as info:
        run_source(broken, "return 1", "a.js")
    assert "missing" in info.value.message and info.value.exit_code == 7


def _js_cache_files(home: Path) -> list[Path]:
    return [p for p in (home / "cache" / "modules").glob("*.cwasm") if p.stat().st_size < 10_000_000]


@pytest.mark.parametrize("damage", ["flip", "truncate", "stale-meta", "garbage"])
def test_damaged_compile_cache_is_detected_and_rebuilt(tmp_path, damage):
    home = tmp_path / "home"
    assert run_source(make_engine(home), "return 1", "a.js").result == 1
    (cached,) = _js_cache_files(home)
    data = cached.read_bytes()
    if damage == "flip":
        damaged = bytearray(data)
        damaged[len(damaged) // 2] ^= 0xFF
        cached.write_bytes(bytes(damaged))
    elif damage == "truncate":
        cached.write_bytes(data[: len(data) // 3])
    elif damage == "stale-meta":
        cached.with_suffix(".json").write_text("{not json")
    else:
        cached.write_bytes(b"\0" * 100)
    result = run_source(make_engine(home), "return 'rebuilt'", "a.js")
    assert result.result == "rebuilt"
    assert result.stats.cold_start_ms is not None


def test_warm_cache_loads_without_compiling(tmp_path):
    home = tmp_path / "home"
    notices = []
    first = make_engine(home, compile_notice=lambda label, size: notices.append(label) or (lambda ms: None))
    run_source(first, "return 1", "a.js")
    assert len(notices) == 1 and "js runtime" in notices[0]
    second = make_engine(home, compile_notice=lambda label, size: notices.append(label) or (lambda ms: None))
    run_source(second, "return 1", "a.js")
    assert len(notices) == 1  # the second engine loaded the cached module
    assert second.wasm_host().is_cached(second.registry.get("js").binary["sha256"])


def test_descriptor_accepts_only_known_run_options():
    with pytest.raises(ArtifactError) as info:
        descriptor_from_mapping({"name": "x", "adapter": "a:B", "endings": [".x"], "accepts": ["teleport"]}, "d.yaml")
    assert "accepts unknown options teleport" in info.value.message
