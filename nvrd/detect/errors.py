"""The one exception type of the detection package."""

from __future__ import annotations


class DetectorError(RuntimeError):
    """A detector could not be set up or could not answer: missing runtime, model, Edge TPU,
    a dead or stuck detector process, an unreadable label map.

    The message names what failed and, where it can, what to do about it; callers log it as is.
    """
