"""The image endpoints, one small function each: ``POST /v1/<name>`` takes one image
upload (multipart field ``file``) and answers with its service's result.

:func:`answer` does everything they share: the upload checked (:mod:`.limits`), the image
prepared in the decode pool, the result awaited from the service's batch. (The slot in the
service's queue was taken before the body was read: :class:`artkit.cli.serve.app.Admission`.)

To add an endpoint: a service in :mod:`.services` (``prepare`` and ``run``, loaded in
``load_services``), and here one function that calls :func:`answer` with its name.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, File, Query, Request, UploadFile

from artkit.cli.serve.limits import ClientError, check_upload

router = APIRouter()
IMAGE = File(..., description="The image (JPEG, PNG, WebP, BMP or TIFF; judged by content).")


async def answer(request: Request, name: str, file: UploadFile, **options: Any) -> Any:
    """The result of service `name` for the uploaded `file` (see the module docstring)."""
    state = request.app.state.artkit
    service = state.services.get(name)
    if service is None:
        raise ClientError(404, f"no {name} model is loaded (start artkit serve with "
                               f"{state.needs.get(name, 'its model')})")
    data = await file.read()
    upload = check_upload(data, file.filename, state.config.max_pixels)
    item = await asyncio.get_running_loop().run_in_executor(
        state.decode_pool, service.prepare, upload, options)
    return await service.batcher.submit(item)


@router.post("/v1/predict", summary="Classify an image with the --model classifier")
async def predict(request: Request, file: UploadFile = IMAGE) -> dict[str, Any]:
    return await answer(request, "predict", file)


@router.post("/v1/detect", summary="Find the paintings in a photo (boxes, corners, scores)")
async def detect(request: Request, file: UploadFile = IMAGE,
                 crops: bool = Query(False, description="Also return each painting's "
                                     "rectified crop as a JPEG data URI.")) -> dict[str, Any]:
    return await answer(request, "detect", file, crops=crops)


@router.post("/v1/similar", summary="The most similar photos of the --index collection")
async def similar(request: Request, file: UploadFile = IMAGE) -> dict[str, Any]:
    return await answer(request, "similar", file)


@router.post("/v1/identify", summary="Which artworks of the --index collection the photo shows")
async def identify(request: Request, file: UploadFile = IMAGE,
                   whole: bool = Query(False, description="Treat the photo as one artwork "
                                       "(a close-up, an object): no detector.")
                   ) -> dict[str, Any]:
    return await answer(request, "identify", file, whole=whole)
