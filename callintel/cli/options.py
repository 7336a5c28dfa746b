"""Choices and options that several commands share (`analyze`, `understand`, `batch`)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer


class Channels(StrEnum):
    auto = "auto"
    stereo = "stereo"
    mono = "mono"


class Scenario(StrEnum):
    showroom = "showroom"
    inbound_call = "inbound_call"
    outbound_followup = "outbound_followup"
    service_call = "service_call"


class Device(StrEnum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


# Options that `analyze` and `batch` share.
LanguageOption = Annotated[
    str | None, typer.Option(help="Force a language (zh, en); detected when left out.")
]
ModelOption = Annotated[
    str | None, typer.Option(help="ASR model: registry name, faster-whisper name or local path.")
]
DeviceOption = Annotated[Device, typer.Option(help="Where to run the models.")]
ComputeTypeOption = Annotated[
    str, typer.Option(help="CTranslate2 compute type; auto = int8 on CPU, float16 on CUDA.")
]
BeamSizeOption = Annotated[int, typer.Option(help="Beam size for decoding.")]
UnderstandOption = Annotated[bool, typer.Option(help="Score, extract attributes and grade intent.")]
