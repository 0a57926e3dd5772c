"""Object detection: TFLite models in isolated worker processes, run on regions of camera frames.

pool = DetectorPool(config.detectors, config.model); pool.start()
detector = ObjectDetector(pool, load_labelmap(...), 300, ["person"], {"person": 0.5})
detections, regions = detector.detect(frame, motion_boxes, tracked_boxes)
"""

from nvrd.detect.errors import DetectorError
from nvrd.detect.labels import load_labelmap
from nvrd.detect.object_detector import ObjectDetector
from nvrd.detect.pool import DetectorPool
from nvrd.detect.regions import Detection, select_regions, suppress_duplicates, to_detections
from nvrd.detect.settings import DetectorSettings, ModelSettings, detector_settings, model_settings
from nvrd.detect.worker import DetectorProcess
from nvrd.detect.yuv import region_tensor

__all__ = [
    "Detection",
    "DetectorError",
    "DetectorPool",
    "DetectorProcess",
    "DetectorSettings",
    "ModelSettings",
    "ObjectDetector",
    "detector_settings",
    "load_labelmap",
    "model_settings",
    "region_tensor",
    "select_regions",
    "suppress_duplicates",
    "to_detections",
]
