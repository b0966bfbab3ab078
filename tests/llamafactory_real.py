"""LLaMA-Factory's own dataset code, loaded without torch: `data/parser.py` (dataset_info.json
to `DatasetAttr`), `data/converter.py` (`OpenAIDatasetConverter`) and `data/formatter.py`
(the function and tool formatters a chat template applies).

Its package `__init__`s import the trainers, and `extras/misc.py` and `extras/constants.py`
import torch and peft; the three modules need from them only a logger, two constants and two
hub switches. So the packages are registered empty (the real files are found on their `__path__`)
and those three helpers are stubbed; everything the tests run is LLaMA-Factory's code.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from types import ModuleType, SimpleNamespace

from tests.consumers import require_package_dir


class _Logger(logging.Logger):
    """LLaMA-Factory's logger API; its warnings (an example skipped) are kept to be shown."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.warnings: list[str] = []

    def warning_rank0(self, message: str, *args: object, **kwargs: object) -> None:
        self.warnings.append(str(message))

    warning_rank0_once = warning_once = warning_rank0

    def info_rank0(self, *args: object, **kwargs: object) -> None:
        pass


LOGGER = _Logger("llamafactory")


def _module(name: str, **attributes: object) -> ModuleType:
    module = ModuleType(name)
    module.__dict__.update(attributes)
    return module


@dataclass(frozen=True)
class LlamaFactory:
    """The loaded modules, and the warnings LLaMA-Factory logged while they ran."""

    parser: ModuleType
    converter: ModuleType
    formatter: ModuleType
    warnings: list[str] = field(default_factory=lambda: LOGGER.warnings)

    def dataset_attrs(self, names: list[str], dataset_dir: Path) -> list:
        """`get_dataset_list`: the dataset_info.json entries as LLaMA-Factory resolves them."""
        return self.parser.get_dataset_list(names, str(dataset_dir))

    def convert(self, attr: object, example: dict) -> dict:
        """`OpenAIDatasetConverter` on one loaded example (media lookups stay off)."""
        data_args = SimpleNamespace(media_dir=None)
        return self.converter.OpenAIDatasetConverter(attr, data_args)(example)


def load_llamafactory() -> LlamaFactory:
    """Import LLaMA-Factory's parser, converter and formatter from the installed wheel."""
    root = require_package_dir("llamafactory")
    if "llamafactory.data.converter" not in sys.modules:
        for package in ("llamafactory", "llamafactory.data", "llamafactory.extras"):
            path = root.joinpath(*package.split(".")[1:])
            sys.modules.setdefault(package, _module(package, __path__=[str(path)]))
        stubs = {
            "llamafactory.extras.logging": _module(
                "llamafactory.extras.logging", get_logger=lambda name=None: LOGGER
            ),
            "llamafactory.extras.constants": _module(
                "llamafactory.extras.constants",
                DATA_CONFIG="dataset_info.json",
                RUNNING_LOG="running_log.txt",
            ),
            "llamafactory.extras.misc": _module(
                "llamafactory.extras.misc",
                use_modelscope=lambda: False,
                use_openmind=lambda: False,
            ),
        }
        for name, stub in stubs.items():
            sys.modules.setdefault(name, stub)
    return LlamaFactory(
        parser=import_module("llamafactory.data.parser"),
        converter=import_module("llamafactory.data.converter"),
        formatter=import_module("llamafactory.data.formatter"),
    )
