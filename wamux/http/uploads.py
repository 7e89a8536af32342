"""A picture from a request: a multipart `file`, or `{url}` downloaded under the outbound rule."""

from __future__ import annotations

from quart import request

from wamux.domain.errors import ValidationFailed
from wamux.http.auth import is_admin
from wamux.http.bodies import check_text_pairs, json_body, text_field
from wamux.http.errors import ApiError
from wamux.http.services import Services

PICTURE_MAX_BYTES = 5 * 1024 * 1024


async def picture_bytes(services: Services, *, allow_url: bool) -> bytes:
    """The uploaded picture (multipart `file`), or with `allow_url` the body `{url}` fetched like send-media."""
    if (request.mimetype or "").startswith("multipart/form-data"):
        form = await request.form
        check_text_pairs(form.items(multi=True))
        upload = (await request.files).get("file")
        if upload is None:
            raise ValidationFailed("file is required", details={"file": "required"})
        data: bytes = upload.read()
    elif allow_url:
        body = await json_body(allowed=("url",), needs=("url",))
        url = text_field(body, "url", max_len=4096) or ""
        fetched = await services.usecases.messaging.fetcher.fetch(url, None, trusted=is_admin())
        data = bytes(fetched.data)
    else:
        raise ValidationFailed("send the picture as a multipart/form-data `file`", details={"file": "required"})
    if not data:
        raise ValidationFailed("file is empty", details={"file": "empty"})
    if len(data) > PICTURE_MAX_BYTES:
        raise ApiError(413, "payload_too_large", f"a picture is at most {PICTURE_MAX_BYTES // (1024 * 1024)} MB")
    return data
