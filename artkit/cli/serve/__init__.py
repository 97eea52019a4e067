"""`artkit serve`: the models behind an HTTP service and a web page.

A layer above :mod:`artkit.api`, beside the CLI: it imports the API and the core, and
nothing below imports it. Uploads are decoded in memory (never written to disk, never
read from a path a request names), gathered into onnxruntime batches (:mod:`.batching`),
and answered as the API's typed results in JSON. Needs the ``serve`` extra (FastAPI,
uvicorn, prometheus-client, python-multipart).
"""
