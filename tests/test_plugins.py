"""Plugin loading: built-ins, a third-party entry point, broken and misspelt plugins."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from artkit import registry

TOY_SOURCE = Path(__file__).parent / "toy_plugin" / "artkit_toy.py"


def make_distribution(site: Path, dist: str, version: str, entry_points: dict[str, str],
                      modules: dict[str, str]) -> None:
    """Write an installed-looking distribution (dist-info + modules) into `site`."""
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = ["[artkit]"] + [f"{name} = {target}" for name, target in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for module, source in modules.items():
        (site / f"{module}.py").write_text(source)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A temporary site folder on sys.path; the registry reloads around the test."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    registry.reset_registry()
    yield folder
    # The test's own modules (artkit_toy, artkit_broken, ...), not the built-in artkit_plugins.
    for name in [m for m in sys.modules
                 if m.startswith("artkit_") and m.partition(".")[0] != "artkit_plugins"]:
        del sys.modules[name]
    registry.reset_registry()


def invoke(*args: str):
    from artkit.cli.main import build_app

    return CliRunner().invoke(build_app(), list(args))


def test_builtin_plugins_are_listed_with_their_package():
    result = invoke("plugins", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["plugins"]
    readers = {r["name"]: r for r in rows if r["kind"] == "dataset-reader"}
    assert {"folder", "imet", "csv", "coco"} <= set(readers)
    assert readers["imet"]["package"] == "artkit"
    assert readers["imet"]["module"] == "artkit_plugins.readers"


def test_third_party_model_trains_and_evaluates_through_the_cli(site, synth_multiclass):
    shutil.copy(TOY_SOURCE, site / "artkit_toy.py")
    make_distribution(site, "artkit-toy", "0.3", {"toy": "artkit_toy"}, {})

    listed = json.loads(invoke("plugins", "--json").output)["plugins"]
    toy = [r for r in listed if r["name"] == "toy-histogram"]
    assert toy and toy[0]["kind"] == "model" and toy[0]["package"] == "artkit-toy"
    assert toy[0]["version"] == "0.3"

    helptext = invoke("train", "toy-histogram", "--help").output
    assert "--bins" in helptext and "--vocab" not in helptext

    result = invoke("train", "toy-histogram", "--data", str(synth_multiclass), "--bins", "4",
                    "--name", "first", "--quiet")
    assert result.exit_code == 0, result.output
    run = Path(os.environ["ARTKIT_RUNS"]) / "toy-histogram" / "first"
    for name in ("config.json", "split.json", "class_means.npy", "metrics.json"):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    config = json.loads((run / "config.json").read_text())
    assert config["options"] == {"bins": 4}
    n_classes = len(config["labels"])
    # Colour histograms are a weak feature on purpose, but they beat guessing.
    assert metrics["metrics"]["accuracy"] > 1.5 / n_classes
    assert metrics["n_images"] == len(json.loads((run / "split.json").read_text())["test"])

    again = invoke("evaluate", str(run))
    assert again.exit_code == 0, again.output
    assert json.loads((run / "metrics.json").read_text())["metrics"] == metrics["metrics"]
    listing = invoke("runs", "--json")
    assert str(run) in listing.output


def test_broken_plugin_warns_by_name_and_the_rest_still_works(site, capsys):
    make_distribution(site, "artkit-broken", "1.0", {"broken": "artkit_broken"},
                      {"artkit_broken": "raise ImportError('needs libfoo')\n"})
    loaded = registry.get_registry()
    assert "broken" in loaded.failed and "libfoo" in loaded.failed["broken"]
    assert "imet" in registry.of_kind("dataset-reader")
    assert "broken" in capsys.readouterr().err


def test_a_plugin_adds_a_command_only_when_it_is_enabled(site, tmp_path, monkeypatch):
    from PIL import Image

    shutil.copy(TOY_SOURCE, site / "artkit_toy.py")
    make_distribution(site, "artkit-toy", "0.3", {"toy": "artkit_toy"}, {})
    red = tmp_path / "red.png"
    Image.new("RGB", (8, 8), (250, 10, 10)).save(red)

    result = invoke("toy-colours", str(red), "--bins", "4")
    assert result.exit_code == 0, result.output
    assert result.output == f"{red}\tbin (3, 0, 0)\t1.00\n"
    listed = invoke("--help").output
    assert "toy-colours" in listed
    assert listed.index("plugins") < listed.index("toy-colours")  # artkit's own come first

    monkeypatch.setenv("ARTKIT_PLUGINS", "")
    registry.reset_registry()
    absent = invoke("toy-colours", str(red))
    assert absent.exit_code == 2 and "No such command 'toy-colours'" in absent.output
    assert "toy-colours" not in invoke("--help").output


def test_a_plugin_cannot_take_a_built_in_command_name(site):
    source = ("from artkit import hookimpl\n\n"
              "@hookimpl\ndef register_commands(cli):\n"
              "    cli.command('predict')(lambda: None)\n")
    make_distribution(site, "artkit-clash", "1.0", {"clash": "artkit_clash"},
                      {"artkit_clash": source})
    env = dict(os.environ, PYTHONPATH=str(site))
    done = subprocess.run([sys.executable, "-m", "artkit", "--help"], capture_output=True,
                          text=True, env=env)
    assert done.returncode == 1 and done.stdout == ""
    assert "command(s) predict added twice" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("hook", ["register_modelz(register)", "register_command(cli)"])
def test_misspelt_hook_fails_loudly(site, hook):
    source = ("from artkit.hookspecs import hookimpl\n\n"
              f"@hookimpl\ndef {hook}:\n    pass\n")
    make_distribution(site, "artkit-typo", "1.0", {"typo": "artkit_typo"},
                      {"artkit_typo": source})
    loaded = registry.get_registry()
    assert hook.partition("(")[0] in loaded.failed["typo"]
    assert not loaded.pm.has_plugin("typo")


def test_artkit_plugins_variable_restricts_external_plugins(site, monkeypatch):
    shutil.copy(TOY_SOURCE, site / "artkit_toy.py")
    make_distribution(site, "artkit-toy", "0.3", {"toy": "artkit_toy"}, {})
    monkeypatch.setenv("ARTKIT_PLUGINS", "")
    assert "toy-histogram" not in registry.get_registry().of_kind("model")
    assert "imet" in registry.get_registry().of_kind("dataset-reader")
    monkeypatch.setenv("ARTKIT_PLUGINS", "toy")
    registry.reset_registry()
    assert "toy-histogram" in registry.get_registry().of_kind("model")


def test_entry_point_route_in_a_real_process(site):
    """`python -m artkit plugins` finds an installed plugin (no in-process shortcuts)."""
    shutil.copy(TOY_SOURCE, site / "artkit_toy.py")
    make_distribution(site, "artkit-toy", "0.3", {"toy": "artkit_toy"}, {})
    env = dict(os.environ, PYTHONPATH=str(site))
    out = subprocess.run([sys.executable, "-m", "artkit", "plugins", "--json"],
                         capture_output=True, text=True, env=env, check=True).stdout
    assert "toy-histogram" in out


def test_unknown_model_is_a_one_line_error():
    result = invoke("evaluate", "runs/nope/1")
    assert result.exit_code == 1
    assert "no such run" in result.output
    assert "Traceback" not in result.output


def test_run_on_a_csv_data_set_can_be_evaluated_again(site, tmp_path):
    """The run remembers the csv file itself (not its folder), so evaluate finds the data."""
    from PIL import Image

    shutil.copy(TOY_SOURCE, site / "artkit_toy.py")
    make_distribution(site, "artkit-toy", "0.3", {"toy": "artkit_toy"}, {})
    rows = ["id,department"]
    (tmp_path / "images").mkdir()
    for i in range(30):
        colour = ((200, 20, 20), (20, 20, 200), (20, 200, 20))[i % 3]
        Image.new("RGB", (16, 16), colour).save(tmp_path / "images" / f"{i}.png")
        rows.append(f"{i},{['red', 'blue', 'green'][i % 3] if i != 29 else 'rare'}")
    csv = tmp_path / "classes.csv"
    csv.write_text("\n".join(rows) + "\n")
    trained = invoke("train", "toy-histogram", "--data", str(csv), "--min-class-images", "2",
                     "--name", "csv", "--quiet")
    assert trained.exit_code == 0, trained.output
    run = Path(os.environ["ARTKIT_RUNS"]) / "toy-histogram" / "csv"
    config = json.loads((run / "config.json").read_text())
    assert config["data"] == str(csv.resolve()) and "rare" not in config["labels"]
    again = invoke("evaluate", str(run))
    assert again.exit_code == 0, again.output
    assert json.loads((run / "metrics.json").read_text())["metrics"]["accuracy"] == 1.0


def test_kinds_are_strings_and_index_the_registry():
    assert [str(k) for k in registry.Kind] == list(registry.KIND_HOOKS) == [
        "model", "feature-extractor", "evaluator", "dataset-reader", "detection-method"]
    assert json.dumps({registry.Kind.MODEL: registry.Kind.EVALUATOR}) == '{"model": "evaluator"}'
    assert f"{registry.Kind.DATASET_READER}" == "dataset-reader"
    assert registry.of_kind("dataset-reader") is registry.of_kind(registry.Kind.DATASET_READER)
    assert {info.kind for info in registry.get_registry().all()} <= set(registry.Kind)
    with pytest.raises(Exception, match="unknown detection-method 'nope'"):
        registry.get(registry.Kind.DETECTION_METHOD, "nope")


def test_optional_capabilities_have_declared_defaults():
    from artkit.contracts import OPTIONAL, capability
    from artkit.errors import PluginError

    frames = registry.get(registry.Kind.DETECTION_METHOD, "frames")
    ranked = registry.get(registry.Kind.DETECTION_METHOD, "frames+cnn")
    assert capability(frames, "needs_classifier") is False  # not set: the default
    assert capability(ranked, "needs_classifier") is True
    bow = registry.get(registry.Kind.MODEL, "bow-svm")
    assert callable(capability(bow, "export_onnx"))
    assert capability(object(), "export_onnx") is None
    assert capability(object(), "default_data") is OPTIONAL["default_data"] is None
    with pytest.raises(PluginError, match="'needs_gpu' is not a declared optional"):
        capability(frames, "needs_gpu")


def test_protocol_docstrings_describe_exactly_the_optional_capabilities():
    """OPTIONAL is the one list: each Protocol's docstring describes its own entries,
    ``name: type = default``, with the declared default; together, every entry once."""
    import re

    from artkit import contracts

    described: dict[str, str] = {}
    for protocol in (contracts.ModelPlugin, contracts.FeatureExtractor, contracts.Evaluator,
                     contracts.DatasetReader, contracts.DetectionMethod):
        text = protocol.__doc__ or ""
        for name, default in re.findall(r"^\s*- ``(\w+): [^`]+ = ([^`]+)``", text, re.M):
            assert name not in described, f"{name} described twice"
            described[name] = default
    assert sorted(described) == sorted(contracts.OPTIONAL)
    for name, default in contracts.OPTIONAL.items():
        assert described[name] == repr(default), name


def test_which_method_and_model_detect_defaults_to_come_from_the_plugins(monkeypatch):
    """No name is written into the core: the detection methods' `default_rank` and the
    model plugins' `default_cam_rank` decide."""
    from artkit.api.detect import default_method
    from artkit.detection.pipeline import fallback_cam_models

    assert default_method(has_model=True) == "frames+cnn"
    assert default_method(has_model=False) == "frames"
    assert fallback_cam_models() == ["vgg19-cam"]
    cam = registry.get(registry.Kind.DETECTION_METHOD, "cam")
    monkeypatch.setattr(cam, "default_rank", 0, raising=False)
    assert default_method(has_model=True) == "cam"
    assert default_method(has_model=False) == "frames"  # cam needs a model
    mobilenet = registry.get(registry.Kind.MODEL, "mobilenet")
    monkeypatch.setattr(mobilenet, "default_cam_rank", 0, raising=False)
    assert fallback_cam_models() == ["mobilenet", "vgg19-cam"]
    for name in ("frames", "frames+cnn"):
        monkeypatch.setattr(registry.get(registry.Kind.DETECTION_METHOD, name),
                            "default_rank", None)
    with pytest.raises(Exception, match="declares a default_rank"):
        default_method(has_model=False)
