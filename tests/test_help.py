"""Every script's --help lists every field of its config class, with that field's default.

Replaces a check of ten hand-picked flags of run_gail.py: a field added to any config (or a
default changed in a subclass, like GAIL's --total-env-steps) is now checked automatically,
and so is each script parsing the config class it is documented with.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from types import ModuleType

import pytest

import convert_demos
import export_policy
import run_behavior_clone
import run_gail
import run_ppo
import sample_trajectory
import test_policy
from algo.config import BehaviorCloneRunConfig, GailRunConfig, PPORunConfig
from common.script_configs import ConvertConfig, ExportConfig, SampleConfig, TestConfig
from common.config import build_parser, flag_name, format_default
from conftest import REPO_ROOT

SCRIPTS = [(run_ppo, PPORunConfig), (run_gail, GailRunConfig),
           (run_behavior_clone, BehaviorCloneRunConfig),
           (sample_trajectory, SampleConfig), (test_policy, TestConfig), (export_policy, ExportConfig),
           (convert_demos, ConvertConfig)]
SCRIPT_IDS = [module.__name__ for module, _ in SCRIPTS]


def option_entries(help_text: str) -> dict[str, str]:
    """Each option's help entry (whitespace normalised), by every flag spelling it has."""
    entries: list[list[str]] = []
    for line in help_text.splitlines():
        if re.match(r"^  -", line):
            entries.append([line])
        elif entries and line.startswith("   "):
            entries[-1].append(line)
    by_flag: dict[str, str] = {}
    for entry_lines in entries:
        entry = " ".join(" ".join(entry_lines).split())
        header = re.match(r"^((?:-[-\w]+(?: [A-Z_,.]+)?(?:, )?)+)", entry).group(1)
        for flag in re.findall(r"-[-\w]+", header):
            by_flag[flag] = entry
    return by_flag


def script_help(module: ModuleType, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as raised:
        module.main(["--help"])
    assert raised.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("module, config_class", SCRIPTS, ids=SCRIPT_IDS)
def test_help_lists_every_config_field_with_its_default(module: ModuleType, config_class: type,
                                                        capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # no wrapping inside a default (argparse breaks long words)
    for help_text in (build_parser(config_class, "").format_help(), script_help(module, capsys)):
        entries = option_entries(help_text)
        for field in dataclasses.fields(config_class):
            flag = flag_name(field.name)
            assert flag in entries, f"{module.__name__}: {flag} missing from --help"
            entry = entries[flag]
            assert f"(default: {format_default(field.default)})" in entry, f"{module.__name__} {flag}: {entry}"
            assert " ".join(field.metadata["help"].split()) in entry, f"{module.__name__} {flag}: {entry}"
            if isinstance(field.default, bool):
                assert f"--no-{flag[2:]}" in entries, f"{module.__name__}: {flag} has no --no- form"


@pytest.mark.parametrize("module, config_class", SCRIPTS, ids=SCRIPT_IDS)
def test_scripts_offer_exactly_their_config_fields(module: ModuleType, config_class: type,
                                                   capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Catches a script parsing another config class than the one it is documented with."""
    monkeypatch.setenv("COLUMNS", "1000")
    offered = {flag for flag in option_entries(script_help(module, capsys)) if not flag.startswith("--no-")}
    expected = {flag_name(field.name) for field in dataclasses.fields(config_class)}
    assert offered == expected | {"-h", "--help", "--debug"}


def test_entry_parser_reads_wrapped_help_and_boolean_pairs() -> None:
    """The helper itself, on a hand-written help text."""
    text = ("options:\n"
            "  -h, --help            show this help message and exit\n"
            "  --seed SEED           seed (default: 0)\n"
            "  --absorbing, --no-absorbing\n"
            "                        judge ends through an absorbing\n"
            "                        state (default: True)\n")
    entries = option_entries(text)
    assert entries["--seed"] == "--seed SEED seed (default: 0)"
    assert entries["--no-absorbing"].endswith("judge ends through an absorbing state (default: True)")
    assert entries["-h"] == entries["--help"]


def test_help_from_the_command_line() -> None:
    """The scripts run as programs too (one is enough: they share parse_config)."""
    result = subprocess.run([sys.executable, "run_gail.py", "--help"], cwd=REPO_ROOT, capture_output=True,
                            text=True, check=True, env={**os.environ, "COLUMNS": "1000"})
    entries = option_entries(result.stdout)
    assert "(default: 0.99)" in entries["--gamma"] and "(default: 300000)" in entries["--total-env-steps"]


SCRIPT_FILES = ["run_ppo.py", "sample_trajectory.py", "run_gail.py", "run_behavior_clone.py", "test_policy.py",
                "export_policy.py", "convert_demos.py"]


@pytest.mark.parametrize("script", SCRIPT_FILES)
@pytest.mark.parametrize("argv", [["--help"], ["--seed", "x"]], ids=["help", "bad_flag"])
def test_help_and_bad_flags_answer_before_tensorflow_is_imported(script: str, argv: list[str]) -> None:
    """--help and a flag error must not wait for TensorFlow's start (3 s and more): python -X
    importtime lists every module imported, and tensorflow must not be one of them.
    (--seed x is a bad value for scripts that have --seed and an unknown flag for the others.)"""
    result = subprocess.run([sys.executable, "-X", "importtime", script, *argv], cwd=REPO_ROOT,
                            capture_output=True, text=True)
    assert result.returncode == (0 if argv == ["--help"] else 2), result.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "argparse" in imported  # the listing works
    heavy = sorted(name for name in imported if name.split(".")[0] in ("tensorflow", "keras", "gymnasium"))
    assert not heavy, f"{script} {' '.join(argv)} imported {heavy[:5]}"


def test_help_is_grouped_with_the_run_flags_first(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLUMNS", "1000")
    text = script_help(run_gail, capsys)
    headings = [line[:-1] for line in text.splitlines() if line and not line.startswith(" ") and line.endswith(":")]
    assert headings == ["options", "run", "demonstrations", "policy network", "PPO",
                        "discriminator (GAIL's learned reward)", "evaluation and checkpoints"]

    def block(heading: str) -> str:
        start = text.index(f"\n{heading}:\n")
        following = [text.index(f"\n{other}:\n") for other in headings if text.index(f"\n{other}:\n") > start]
        return text[start:min(following, default=len(text))]

    assert "--env ENV" in block("run") and "--total-env-steps" in block("run")  # GAIL's own default, run's block
    assert "--demo-dir" in block("demonstrations") and "--bc-init-epochs" in block("demonstrations")
    assert "--disc-epochs" in block("discriminator (GAIL's learned reward)")
    assert "--gamma" in block("PPO") and "--hidden-sizes" in block("policy network")
    assert "--gamma" not in block("run") and "--env" not in block("PPO")


def test_format_default_writes_what_the_flag_takes() -> None:
    assert format_default((64, 64)) == "64,64"
    assert format_default("") == "''"
    assert format_default(0.99) == "0.99" and format_default(True) == "True"
