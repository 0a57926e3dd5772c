"""Serve one mp4's h264 track over RTSP with gst-rtsp-server, without re-encoding.

Run by tests/support/rtsp_server.py with the SYSTEM python (python3-gi lives there, not in .venv):

    /usr/bin/python3 gst_rtsp_serve.py --media clip.mp4 --path cam [--port N] [--loop]

Prints "PORT <n>" on stdout once the server listens on 127.0.0.1, then serves until killed or until
its stdin closes (so the server never outlives the process that started it).
"""

from __future__ import annotations

import argparse
import sys
import threading

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def launch_line(media: str) -> str:
    """The media pipeline: demux the mp4, payload its first video track as RTP (no decoding)."""
    location = media.replace("\\", "\\\\").replace('"', '\\"')
    return (
        f'( filesrc location="{location}" ! qtdemux name=demux '
        "demux.video_0 ! queue ! h264parse config-interval=-1 "
        "! rtph264pay name=pay0 pt=96 config-interval=-1 )"
    )


def loop_seamlessly(media: GstRtspServer.RTSPMedia) -> None:
    """Make the clip loop without a gap or a timestamp jump, using segment seeks on the demuxer.

    A segment seek makes the demuxer announce the clip's end with SEGMENT_DONE instead of EOS; a
    non-flushing segment seek back to 0 then continues the same running time, so RTP timestamps stay
    monotonic and clients see one endless stream at the clip's own pace. The first pass becomes a
    segment with a flushing segment seek once the media has prerolled (clients rarely seek on PLAY;
    when one does, its seek is turned into a segment seek too).
    """
    demux = media.get_element().get_by_name("demux")
    if demux is None:
        print("rtsp-serve: cannot find the demuxer to loop", file=sys.stderr, flush=True)
        return
    key_segment = Gst.SeekFlags.SEGMENT | Gst.SeekFlags.KEY_UNIT

    def rewind() -> None:
        # Not on the demuxer's streaming thread, which is the one announcing SEGMENT_DONE.
        demux.seek(1.0, Gst.Format.TIME, key_segment, Gst.SeekType.SET, 0, Gst.SeekType.NONE, -1)

    def on_upstream(_pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        event = info.get_event()
        if event is None or event.type != Gst.EventType.SEEK:
            return Gst.PadProbeReturn.OK
        rate, fmt, flags, start_type, start, stop_type, stop = event.parse_seek()
        if flags & Gst.SeekFlags.SEGMENT:
            return Gst.PadProbeReturn.OK
        demux.seek(rate, fmt, flags | Gst.SeekFlags.SEGMENT, start_type, start, stop_type, stop)
        return Gst.PadProbeReturn.HANDLED

    def on_downstream(_pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        event = info.get_event()
        if event is not None and event.type == Gst.EventType.SEGMENT_DONE:
            threading.Thread(target=rewind, daemon=True).start()
            return Gst.PadProbeReturn.DROP
        return Gst.PadProbeReturn.OK

    def on_pad_added(_demux: Gst.Element, pad: Gst.Pad) -> None:
        if pad.get_name() != "video_0":  # the one track we serve; others (audio) stay unlinked
            return
        pad.add_probe(Gst.PadProbeType.EVENT_UPSTREAM, on_upstream)
        pad.add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, on_downstream)

    def on_prepared(_media: GstRtspServer.RTSPMedia) -> None:
        flags = key_segment | Gst.SeekFlags.FLUSH
        demux.seek(1.0, Gst.Format.TIME, flags, Gst.SeekType.SET, 0, Gst.SeekType.NONE, -1)

    for pad in demux.srcpads:
        on_pad_added(demux, pad)
    demux.connect("pad-added", on_pad_added)
    media.connect("prepared", on_prepared)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", required=True, help="mp4 file with an h264 video track")
    parser.add_argument("--path", default="cam", help="mount point: rtsp://127.0.0.1:<port>/<path>")
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one")
    parser.add_argument("--loop", action="store_true", help="restart the clip when it ends")
    args = parser.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))

    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch_line(args.media))
    factory.set_shared(True)  # every client watches the same running stream
    if args.loop:
        factory.connect("media-configure", lambda _f, media: loop_seamlessly(media))
    server.get_mount_points().add_factory("/" + args.path.strip("/"), factory)

    if server.attach(None) == 0:
        print(f"rtsp-serve: cannot listen on 127.0.0.1:{args.port}", file=sys.stderr, flush=True)
        return 1
    print(f"PORT {server.get_bound_port()}", flush=True)

    loop = GLib.MainLoop()

    def on_stdin(_fd: int, _condition: GLib.IOCondition) -> bool:
        # Our parent closed the pipe (or died): stop serving.
        loop.quit()
        return False

    GLib.io_add_watch(sys.stdin.fileno(), GLib.IO_IN | GLib.IO_HUP | GLib.IO_ERR, on_stdin)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
