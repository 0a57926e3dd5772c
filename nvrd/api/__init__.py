"""The HTTP API on port 5000: Frigate's paths (0.8 and 0.13), served by Tornado.

This layer reads the core (config, store, camera pipelines, event manager); the core knows nothing of it.
"""
