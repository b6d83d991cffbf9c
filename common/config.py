"""One config object per script, built from argparse.

Configs are dataclasses whose fields carry their help text and an optional range check, so
``--help`` lists every hyperparameter with its default and ``parse_config`` rejects bad values
with a one-line error before anything touches the disk.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import string
import sys
from pathlib import Path
from typing import Any, Callable, TypeVar

from common.errors import USAGE_EXIT_STATUS, UsageError
from common.files import atomic_write_bytes

ConfigT = TypeVar("ConfigT")

# Range checks a field can ask for: name -> (predicate, phrase used in the error message).
RANGE_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "positive": (lambda value: value > 0, "must be > 0"),
    "non_negative": (lambda value: value >= 0, "must be >= 0"),
    "unit_interval": (lambda value: 0 < value <= 1, "must be in (0, 1]"),
    "probability": (lambda value: 0 <= value <= 1, "must be in [0, 1]"),
    # keras.utils.set_random_seed passes the seed to numpy's legacy seeding, which takes 32 bits.
    "seed": (lambda value: 0 <= value < 2**32, "must be in [0, 2**32 - 1]"),
    "all_positive": (lambda values: len(values) > 0 and all(v > 0 for v in values),
                     "must be a non-empty comma-separated list of positive integers"),
}


def option(default: Any, help: str, check: str | None = None, choices: tuple | None = None,
           path: bool = False, group: str | None = None) -> Any:
    """A config field with its ``--help`` text and an optional range check from RANGE_CHECKS.

    ``path=True`` marks a path flag whose name does not end in ``_dir`` (those are paths anyway):
    ``parse_config`` fills its {env} and {seed} placeholders (see ``fill_placeholders``).
    ``group`` places the flag in a ``--help`` block; by default it goes in the block of the config
    class that first declared it (that class's ``FLAG_GROUP``)."""
    return dataclasses.field(default=default, metadata={"help": help, "check": check, "choices": choices,
                                                        "path": path, "group": group})


def int_tuple(text: str) -> tuple[int, ...]:
    """Parse ``"64,64"`` into ``(64, 64)`` for layer-size flags."""
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def flag_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse prints its usage block on errors; our users asked for one line and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(USAGE_EXIT_STATUS)


# The order of the --help blocks; a block not named here comes after these.
GROUP_ORDER = ("run", "demonstrations", "policy network", "PPO", "discriminator (GAIL's learned reward)",
               "behavioural cloning", "evaluation and checkpoints")
DEFAULT_GROUP = "options"


def flag_group(config_class: type, field: dataclasses.Field) -> str:
    """The --help block of ``field``: its own ``group``, else the FLAG_GROUP of the most basic class
    in ``config_class``'s hierarchy that declares it (a subclass changing a default keeps the block)."""
    if field.metadata.get("group"):
        return field.metadata["group"]
    declaring = [cls for cls in config_class.__mro__ if field.name in vars(cls).get("__annotations__", {})]
    return getattr(declaring[-1], "FLAG_GROUP", DEFAULT_GROUP) if declaring else DEFAULT_GROUP


def build_parser(config_class: type, description: str) -> argparse.ArgumentParser:
    parser = OneLineErrorParser(description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    group_of = {field.name: flag_group(config_class, field) for field in dataclasses.fields(config_class)}
    names = set(group_of.values())
    ordered = [name for name in GROUP_ORDER if name in names] + sorted(names - set(GROUP_ORDER))
    # Flags without a block stay in argparse's own "options" block, beside --help.
    groups = {name: parser if name == DEFAULT_GROUP else parser.add_argument_group(name) for name in ordered}
    # Added block by block, so the usage line lists the flags in the order --help shows them.
    for field in sorted(dataclasses.fields(config_class), key=lambda field: ordered.index(group_of[field.name])):
        kwargs: dict[str, Any] = {"default": field.default, "help": field.metadata.get("help", "")}
        if field.metadata.get("choices"):
            kwargs["choices"] = field.metadata["choices"]
        if isinstance(field.default, bool):
            kwargs["action"] = argparse.BooleanOptionalAction
        elif isinstance(field.default, tuple):
            kwargs["type"] = int_tuple
            kwargs["metavar"] = "N,N,..."
        elif field.default is not None:
            kwargs["type"] = type(field.default)
        kwargs["help"] = (kwargs["help"] + f" (default: {format_default(field.default)})").replace("%", "%%")
        groups[group_of[field.name]].add_argument(flag_name(field.name), dest=field.name, **kwargs)
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    return parser


def format_default(value: Any) -> str:
    """A default as it is typed on the command line: 64,64 for a tuple, '' for an empty string."""
    if isinstance(value, tuple):
        return ",".join(str(part) for part in value)
    return "''" if value == "" else str(value)


def validate_fields(config: Any) -> None:
    """Apply each field's range check; raise UsageError naming the flag. NaN and inf never pass."""
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(f"{flag_name(field.name)} must be a finite number, got {value!r}")
        check = field.metadata.get("check")
        if check is None:
            continue
        predicate, phrase = RANGE_CHECKS[check]
        if not predicate(value):
            raise UsageError(f"{flag_name(field.name)} {phrase}, got {value!r}")


def parse_config(config_class: type[ConfigT], description: str, argv: list[str] | None) -> ConfigT:
    """Parse argv into ``config_class``, run field checks and the class's own ``validate()``."""
    namespace = build_parser(config_class, description).parse_args(argv)
    values = {field.name: getattr(namespace, field.name) for field in dataclasses.fields(config_class)}
    return resolve_config(config_class(**values))


def resolve_config(config: ConfigT) -> ConfigT:
    """A checked copy of ``config`` with its path placeholders filled: what ``parse_config`` gives
    for flags, for a config built in Python (the API). Raises UsageError naming the flag."""
    config = dataclasses.replace(config)  # type: ignore[type-var]
    validate_fields(config)
    if hasattr(config, "validate"):
        config.validate()
    fill_placeholders(config)
    return config


# What every path flag may name; a script may fill more names later (``LATER_PLACEHOLDERS``).
PATH_PLACEHOLDERS = ("env", "seed")


def is_path_field(field: dataclasses.Field) -> bool:
    return field.name.endswith("_dir") or bool(field.metadata.get("path"))


def _placeholder_text(name: str, conversion: str | None, format_spec: str) -> str:
    return "{" + name + (f"!{conversion}" if conversion else "") + (f":{format_spec}" if format_spec else "") + "}"


def format_path(template: str, flag: str, later: tuple[str, ...] = (), **values: Any) -> str:
    """Fill the {placeholders} of a path flag with ``values`` ({seed:03d} style specs work too).

    Names in ``later`` are left for a later call, which must come: the result is then still a
    template (its literal braces stay doubled). Any other name is a UsageError naming ``flag``,
    so no file is ever written under a literal ``{name}``.
    """
    def bad(reason: str) -> UsageError:
        accepted = ", ".join("{" + name + "}" for name in (*values, *later))
        return UsageError(f"{flag} {template}: {reason}; this flag fills in {accepted} "
                          "(double a literal brace: {{ or }})")

    try:
        pieces = list(string.Formatter().parse(template))
    except ValueError as error:
        raise bad(f"bad placeholder ({error})") from None
    escape = (lambda text: text.replace("{", "{{").replace("}", "}}")) if later else (lambda text: text)
    parts: list[str] = []
    for literal, name, format_spec, conversion in pieces:
        parts.append(escape(literal))
        if name is None:
            continue
        placeholder = _placeholder_text(name, conversion, format_spec)
        if name in values:
            try:
                parts.append(placeholder.format_map({name: values[name]}))
            except (ValueError, KeyError, IndexError, TypeError) as error:
                raise bad(f"cannot fill {placeholder} ({error})") from None
        elif name in later:
            parts.append(placeholder)
        else:
            raise bad(f"unknown placeholder {placeholder}")
    return "".join(parts)


def fill_placeholders(config: Any) -> None:
    """Fill {env} and {seed} in every path field (a name ending in ``_dir``, or ``option(path=True)``)
    from the config's own values. A class attribute ``LATER_PLACEHOLDERS`` ({field name: names})
    lets a script keep more names, e.g. test_policy.py's {algo}, for its own later fill; any
    other name is a UsageError before anything touches the disk."""
    values = {name: getattr(config, name) for name in PATH_PLACEHOLDERS if hasattr(config, name)}
    later_names = getattr(config, "LATER_PLACEHOLDERS", {})
    for field in dataclasses.fields(config):
        if is_path_field(field):
            setattr(config, field.name, format_path(getattr(config, field.name), flag_name(field.name),
                                                    later=tuple(later_names.get(field.name, ())), **values))


def config_to_dict(config: Any) -> dict[str, Any]:
    return {key: list(value) if isinstance(value, tuple) else value
            for key, value in dataclasses.asdict(config).items()}


def save_config(config: Any, directory: str | Path, **extra: Any) -> Path:
    """Write the resolved config (and ``extra`` entries, e.g. the algorithm) as ``config.json`` in
    ``directory`` (atomically)."""
    path = Path(directory) / "config.json"
    atomic_write_bytes(path, json.dumps({**config_to_dict(config), **extra}, indent=2, sort_keys=True).encode())
    return path


# Flags added after the first runs were saved; a config.json without one was run at this value.
LATER_FLAG_DEFAULTS = {"normalize_observations": False, "activation": "tanh", "log_std_init": 0.0}


def load_config_dict(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / "config.json"
    if not path.is_file():
        raise UsageError(f"{path}: missing; is {directory} a checkpoint directory written by this toolkit?")
    try:
        saved = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(saved, dict):
        raise UsageError(f"{path}: expected a JSON object of flag values")
    return {**LATER_FLAG_DEFAULTS, **saved}
