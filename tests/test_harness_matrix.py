"""The experiment matrix: expansion, exclude, deep merge, stable ids, clear errors, live edits."""

import json
import os
from pathlib import Path

import pytest

from tfopt import matrix, variants
from tfopt.matrix import ConfigError


def test_list_values_expand_to_every_permutation_including_nested_knobs():
    config = matrix.resolve({"cpus": [1, 2], "mode": ["eager", "graph"],
                             "knobs": {"inter": [1, 2]}})  # fmt: skip
    perms = matrix.expand(config)
    assert len(perms) == 8
    combos = {(p.config["cpus"], p.config["mode"], p.config["knobs"]["inter"]) for p in perms}
    assert len(combos) == 8
    assert matrix.varying_keys(config) == ["cpus", "mode", "knobs.inter"]


def test_only_the_first_worker_of_a_run_traces_allocations(tmp_path):
    """tracemalloc slows a build by seconds: worker 0 traces, the replicates log RSS only."""
    from tfopt.jobs import Job, mem_trace_for, task_for
    from tfopt.matrix import Permutation

    perm = Permutation(matrix.resolve({"mem_trace": {"top": 3}}))
    tasks = [task_for(Job(perm, worker, "a", tmp_path)) for worker in range(3)]
    assert [task["mem_trace"]["top"] for task in tasks] == [3, 0, 0]
    assert all(task["mem_trace"]["enabled"] for task in tasks)  # RSS and peak still logged
    assert mem_trace_for(tasks[0]["mem_trace"], None)["top"] == 0  # a tuning trial


def test_merge_with_defaults_is_deep():
    """A shallow merge (furcate's) would replace a whole table; a partial knobs table must keep
    the other defaults."""
    config = matrix.resolve({"knobs": {"inter": 2}, "mem_trace": {"top": 0}})
    assert config["knobs"] == {"inter": 2, "intra": 0, "omp": None, "onednn": None}
    assert config["mem_trace"]["interval"] == matrix.DEFAULTS["mem_trace"]["interval"]


def test_exclude_matches_on_all_pairs_only():
    config = matrix.resolve({
        "cpus": [1, 2], "mode": ["eager", "graph"], "knobs": {"inter": [1, 2]},
        "exclude": [{"cpus": 1, "mode": "eager"}, {"knobs": {"inter": 2}, "mode": "graph"}],
    })  # fmt: skip
    left = {(p.config["cpus"], p.config["mode"], p.config["knobs"]["inter"])
            for p in matrix.expand(config)}  # fmt: skip
    assert left == {(2, "eager", 1), (2, "eager", 2), (1, "graph", 1), (2, "graph", 1)}
    dotted = matrix.resolve({"cpus": [1, 2], "exclude": [{"cpus": 1, "knobs.inter": 0}]})
    assert [p.config["cpus"] for p in matrix.expand(dotted)] == [2]


def test_sizes_are_data_not_an_axis_and_ids_are_stable():
    config = matrix.resolve({"sizes": [1, 5, 9], "mode": ["eager", "graph"]})
    first, second = matrix.expand(config), matrix.expand(matrix.resolve(json.loads(
        json.dumps({"mode": ["eager", "graph"], "sizes": [1, 5, 9]}))))  # fmt: skip
    assert len(first) == 2
    assert [p.run_id for p in first] == [p.run_id for p in second]
    assert first[0].run_id != first[1].run_id
    # settings that do not change what is measured do not change the id
    renamed = matrix.expand(matrix.resolve({"sizes": [1, 5, 9], "mode": ["eager", "graph"],
                                            "workers": 7, "name": "other"}))  # fmt: skip
    assert [p.run_id for p in renamed] == [p.run_id for p in first]


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"cpu": 1}, "'cpu' (did you mean 'cpus'?)"),
        ({"knobs": {"intr": 1}}, "'knobs.intr' (did you mean 'knobs.intra'?)"),
        ({"cpus": "two"}, "'cpus'"),
        ({"workers": [1, 2]}, "'workers'"),
        ({"mode": "fast"}, "'mode'"),
        ({"sizes": []}, "'sizes'"),
        ({"memory": "lots"}, "'memory'"),
        ({"exclude": [{"nope": 1}]}, "'exclude[0].nope'"),
        ({"variant": "old"}, "'variant': 'old' is not defined"),
        ({"variants": {"old": {"requirment": "x"}}}, "'variants.old.requirment'"),
        ({"repeats": None, "duration": None}, "'repeats'"),
    ],
)
def test_bad_config_errors_name_the_key(raw, named):
    with pytest.raises(ConfigError) as err:
        matrix.resolve(raw)
    assert named in str(err.value)


def test_impossible_limits_are_refused_up_front():
    with pytest.raises(ConfigError, match="'cpus'.*more than this machine"):
        matrix.resolve({"cpus": [1, (os.cpu_count() or 1) + 1]})
    with pytest.raises(ConfigError, match="'memory'.*below"):
        matrix.resolve({"memory": "200M"})


def test_config_files_json_and_toml(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"mode": ["eager", "graph"]}))
    (tmp_path / "b.toml").write_text('mode = ["eager", "graph"]\n[knobs]\ninter = [1, 2]\n')
    assert len(matrix.expand(matrix.load(tmp_path / "a.json"))) == 2
    assert len(matrix.expand(matrix.load(tmp_path / "b.toml"))) == 4
    (tmp_path / "bad.json").write_text("{mode: }")
    with pytest.raises(ConfigError, match="could not be parsed"):
        matrix.load(tmp_path / "bad.json")
    with pytest.raises(ConfigError, match="does not exist"):
        matrix.load(tmp_path / "missing.json")


def test_live_config_picks_up_edits_and_keeps_the_last_good_one(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"mode": ["eager", "graph"]}))
    live = matrix.LiveConfig(path)
    assert not live.refresh()
    path.write_text(json.dumps({"mode": ["eager", "graph", "xla"]}))
    assert live.refresh() and len(matrix.expand(live.config)) == 3
    path.write_text(json.dumps({"mode": ["eager"], "cpu": 1}))
    assert not live.refresh()
    assert "cpu" in live.last_error and len(matrix.expand(live.config)) == 3


def test_variant_specs_from_the_command_line():
    old = variants.parse("old=tensorflow-cpu>=2.19,<2.21,TF_ENABLE_ONEDNN_OPTS=0")
    assert old.requirement == "tensorflow-cpu>=2.19,<2.21" and old.needs_venv
    assert old.env == {"TF_ENABLE_ONEDNN_OPTS": "0"}
    assert variants.parse("s=stock").kind == "stock"
    assert variants.parse("d=docker:tfopt:latest").image == "tfopt:latest"
    with pytest.raises(ValueError, match="NAME=SPEC"):
        variants.parse("justaname")
    with pytest.raises(ValueError, match="does not exist"):
        variants.parse("w=wheel:/nowhere/tf.whl")
    with pytest.raises(ValueError, match="exactly one"):
        variants.from_config("x", {"requirement": "a", "image": "b"})


def test_venv_cache_key_depends_on_the_requirement():
    a, b = variants.parse("a=tensorflow-cpu==2.20.0"), variants.parse("b=tensorflow-cpu==2.19.0")
    assert variants.venv_key(a) != variants.venv_key(b)
    assert variants.venv_key(a) == variants.venv_key(variants.parse("c=tensorflow-cpu==2.20.0"))


def test_variant_venvs_pin_the_worker_packages_to_the_lock():
    from tfopt.variants import WORKER_PACKAGES

    lock = (Path(__file__).resolve().parents[1] / "requirements.lock").read_text()
    pinned = [package for package in WORKER_PACKAGES if "==" in package]
    assert len(pinned) == len(WORKER_PACKAGES) - 1  # all but numpy, which TensorFlow constrains
    for package in pinned:
        assert f"\n{package} \\" in lock, f"{package} is not what requirements.lock pins"


def test_matrix_plots_state_the_limits_their_runs_had(tmp_path):
    from tfopt.experiment import summarize
    from tfopt.export.png_format import _run_limits

    path = tmp_path / "lab.json"
    path.write_text(json.dumps({"cpus": [1, 2], "memory": "4G", "batch_size": [4, 64]}))
    summary = summarize(matrix.LiveConfig(path).config, [])
    assert _run_limits(summary) == "; runs limited to cpus=[1, 2], memory=4G"
