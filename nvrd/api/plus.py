"""Frigate+ endpoints: submit an event's clean picture (`POST /api/events/<id>/plus`) and mark it a
false positive (`PUT /api/events/<id>/false_positive`), with Frigate 0.13's checks and messages."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from nvrd.api.base import BaseHandler, NotFound
from nvrd.api.plus_client import PlusClient, PlusError, prepare_images

log = logging.getLogger(__name__)

NO_KEY = "PLUS_API_KEY environment variable is not set"
UNSUPPORTED_LABEL = 404  # what the service answers for a label it does not train


class Refused(Exception):
    """A submission step failed; answered as 400 with Frigate's message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PlusHandler(BaseHandler):
    """Shared by both endpoints: the configured client and the upload of an event's clean picture."""

    def initialize(self, daemon, plus: PlusClient | None, executor) -> None:
        super().initialize(daemon)
        self.plus = plus
        self.executor = executor

    def _event(self, event_id: str) -> dict:
        if self.plus is None:
            raise Refused(NO_KEY)
        event = self.daemon.store.get_event(event_id)
        if event is None:
            raise NotFound(f"Event {event_id} not found")
        return event

    async def submit(self, event: dict) -> str:
        """Upload the event's clean picture; store and return its Frigate+ id."""
        assert self.plus is not None
        if event.get("end_time") is None:
            raise Refused("Unable to load clean png for in-progress event")
        if event.get("plus_id"):
            raise Refused("Already submitted to plus")
        clean = Path(self.daemon.config.storage.clips) / f"{event['camera']}-{event['id']}-clean.png"
        try:
            picture = clean.read_bytes()
            images = await asyncio.get_running_loop().run_in_executor(self.executor, prepare_images, picture)
        except (OSError, ValueError):
            raise Refused("Unable to load clean png for event") from None
        try:
            plus_id = await self.plus.upload_image(images, event["camera"])
        except PlusError as exc:
            log.error("Frigate+ upload of event %s failed: %s", event["id"], exc)
            raise Refused("Error uploading image") from None
        self.daemon.store.set_event_fields(event["id"], plus_id=plus_id)
        return plus_id


class SubmitHandler(PlusHandler):
    """`POST /api/events/<id>/plus`, body or query `include_annotation=1` to send its box too."""

    async def post(self, event_id: str) -> None:
        body = self.json_body()
        annotate = body.get("include_annotation", self.arg_int("include_annotation", None))
        try:
            event = self._event(event_id)
            plus_id = await self.submit(event)
            box = (event.get("data") or {}).get("box")
            if annotate and box is not None:
                try:
                    await self.plus.add_annotation(plus_id, box, event["label"])
                except PlusError as exc:
                    if exc.status == UNSUPPORTED_LABEL:
                        raise Refused("Error uploading annotation, unsupported label provided.") from None
                    raise Refused("Error uploading annotation") from None
        except Refused as refused:
            self.write_message(False, refused.message, 400)
            return
        self.write_json({"success": True, "plus_id": plus_id})


class FalsePositiveHandler(PlusHandler):
    """`PUT /api/events/<id>/false_positive`: submit (if not yet) and mark the detection as false."""

    async def put(self, event_id: str) -> None:
        self.json_body()  # clients send `{}`; anything else that is not JSON is still a 400
        try:
            event = self._event(event_id)
            data = event.get("data") or {}
            if data.get("box") is None or data.get("region") is None:
                raise Refused("Events prior to 0.13 cannot be submitted as false positives")
            if event.get("false_positive"):
                raise Refused("False positive already submitted to Frigate+")
            plus_id = event.get("plus_id") or await self.submit(event)
            score = data.get("score") or data.get("top_score") or event.get("top_score") or 0.0
            try:
                await self.plus.add_false_positive(
                    plus_id,
                    region=data["region"],
                    box=data["box"],
                    score=score,
                    label=event["label"],
                    model_hash=event.get("model_hash"),
                    model_type=event.get("model_type"),
                    detector_type=event.get("detector_type"),
                )
            except PlusError as exc:
                if exc.status == UNSUPPORTED_LABEL:
                    raise Refused("Error uploading false positive, unsupported label provided.") from None
                raise Refused("Error uploading false positive") from None
        except Refused as refused:
            self.write_message(False, refused.message, 400)
            return
        self.daemon.store.set_event_fields(event_id, false_positive=True)
        self.write_json({"success": True, "plus_id": plus_id})
