"""The SQLite store: event rows, the event timeline and recording segments."""

from nvrd.store.event_query import EventQuery
from nvrd.store.store import Store, StoreError

__all__ = ["EventQuery", "Store", "StoreError"]
