"""The project's exception types. The API layer maps them to HTTP responses."""

from __future__ import annotations


class CallintelError(Exception):
    """Base class of every error callintel raises on purpose."""


class AudioError(CallintelError):
    """The input cannot be used as a recording."""


class EmptyAudioError(AudioError):
    """The input has no bytes, or decodes to no samples."""


class NotAudioError(AudioError):
    """The input is not a media file, or has no audio stream."""


class AudioDecodeError(AudioError):
    """The input looks like media but cannot be decoded (corrupt or truncated)."""


class UnsupportedFormatError(AudioError):
    """The container or codec is recognised but no decoder for it is available."""


class AudioTooLongError(AudioError):
    """The recording is longer than the configured limit."""


class SilentAudioError(AudioError):
    """The recording decodes but carries no audible signal."""


class ChannelLayoutError(AudioError):
    """The requested channel layout does not fit the recording (stereo asked of mono)."""


class ModelError(CallintelError):
    """A model cannot be resolved, assembled or loaded."""


class ModelNotFound(ModelError):
    """A model is not available offline; the message says what to install."""


class ModelIntegrityError(ModelError):
    """Assembled model files do not match the size or checksum in the registry."""


class ConfigError(CallintelError):
    """A configuration file is missing or malformed."""


class RayNotInstalled(CallintelError):
    """The Ray engine was asked for where Ray is not installed."""


class RecordingTooLong(AudioTooLongError):
    """A recording lasts longer than a limit; both in seconds, for the caller to phrase."""

    def __init__(self, duration: float, limit: float) -> None:
        super().__init__(f"the recording lasts {duration:.0f} s; the limit is {limit:.0f} s")
        self.duration = duration
        self.limit = limit


class NotFound(CallintelError, LookupError):
    """What was asked for does not exist, or the caller may not see it (another dealer's row)."""


class Conflict(CallintelError):
    """The request does not fit the stored state: a call not analysed yet, a duplicate being
    created, a name that means several rows."""


class InvalidInput(CallintelError, ValueError):
    """An argument is not valid (an unknown dealer, time zone or checkpoint); the message says
    which and, where there are few, the valid choices."""
