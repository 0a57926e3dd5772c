"""Events: tracked objects that matter, as database rows, timeline rows, snapshot files and bus notices.

`EventManager.handle(camera, track_update)` is called once per processed frame of each camera.
"""

from nvrd.events.manager import EventManager
from nvrd.events.pictures import render_best, render_picture

__all__ = ["EventManager", "render_best", "render_picture"]
