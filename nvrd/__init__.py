"""nvrd: the NVR appliance daemon.

The data's way through the daemon, one package a step:
camera -> frame -> motion -> detect -> track -> events -> (store, api, mqtt).
"""

__version__ = "0.1.0"

# The Frigate release whose HTTP API and MQTT topics nvrd speaks. Clients (the Home Assistant
# integration, the Advanced Camera Card) parse /api/version as "X.Y.Z-..." and refuse < 0.12.
FRIGATE_API_VERSION = "0.13.2"
