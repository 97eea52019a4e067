"""Finding paintings in photos: box geometry, CAMs, the detect pipeline, COCO and csv
files, rectified crops and overlays. Detection *methods* are plugins; this package is what
they and the API share."""
