"""Login, who-am-I, API key rotation and user management."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, current_app, jsonify

from wamux.domain.clock import iso_ms
from wamux.domain.errors import Forbidden, NotFound, Unauthorized
from wamux.domain.users import User, check_user_body
from wamux.http.auth import client_address, current_user, is_admin, issue_token, require_admin
from wamux.http.bodies import json_body, text_field
from wamux.http.services import Services

bp = Blueprint("auth", __name__)


def services() -> Services:
    s: Services = current_app.config["services"]
    return s


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "role": user.role,
        "createdAt": iso_ms(user.created_ms),
        "updatedAt": iso_ms(user.updated_ms),
    }


def created(body: dict[str, Any]) -> Response:
    response = jsonify(body)
    response.status_code = 201
    return response


@bp.post("/api/auth/login")
async def login() -> Response:
    body = await json_body(allowed=("email", "password", "rotateApiKey"), needs=("email", "password"))
    email = text_field(body, "email")
    password = text_field(body, "password", max_len=1024)
    assert email is not None and password is not None
    s = services()
    user = await s.users.login(email, password, client=client_address(s))
    if user is None:
        raise Unauthorized("invalid email or password")
    out: dict[str, Any] = {"token": issue_token(s, user), "user": user_json(user)}
    if body.get("rotateApiKey") is True:
        out["user"]["apiKey"] = await s.users.rotate_api_key(user.id)
    return jsonify(out)


@bp.get("/api/auth/me")
async def me() -> Response:
    user = current_user()
    return jsonify(user_json(user))


@bp.post("/api/auth/api-key")
async def rotate_api_key() -> Response:
    return jsonify({"apiKey": await services().users.rotate_api_key(current_user().id)})


@bp.post("/api/users/<user_id>/api-key")
async def rotate_user_api_key(user_id: str) -> Response:
    """An admin issues a new key for any user (a user for itself); the old key dies at once."""
    _self_or_admin(user_id)
    return jsonify({"apiKey": await services().users.rotate_api_key(user_id)})


@bp.post("/api/users")
async def create_user() -> Response:
    require_admin()
    body = await json_body(allowed=("email", "password", "firstName", "lastName", "role"))
    check_user_body(body, creating=True, as_admin=True)
    email = text_field(body, "email")
    password = text_field(body, "password", max_len=1024)
    assert email is not None and password is not None
    user, api_key = await services().users.create(
        email=email,
        password=password,
        first_name=text_field(body, "firstName", required=False, max_len=100) or "",
        last_name=text_field(body, "lastName", required=False, max_len=100) or "",
        role=text_field(body, "role", required=False, max_len=20) or "user",
    )
    return created({**user_json(user), "apiKey": api_key})


@bp.get("/api/users")
async def list_users() -> Response:
    require_admin()
    s = services()
    rows = await s.queries.users()
    return jsonify({"users": [user_json(u) for r in rows if (u := s.users.get(r["id"])) is not None]})


def _self_or_admin(user_id: str) -> User:
    if not is_admin() and current_user().id != user_id:
        raise (
            NotFound("user not found")
            if services().users.get(user_id) is None
            else Forbidden("you can only see and change your own user")
        )
    return services().users.require(user_id)


@bp.get("/api/users/<user_id>")
async def get_user(user_id: str) -> Response:
    return jsonify(user_json(_self_or_admin(user_id)))


@bp.put("/api/users/<user_id>")
async def update_user(user_id: str) -> Response:
    _self_or_admin(user_id)
    body = await json_body(allowed=("email", "password", "firstName", "lastName", "role"))
    check_user_body(body, creating=False, as_admin=is_admin())
    user = await services().users.update(user_id, body, as_admin=is_admin())
    return jsonify(user_json(user))


@bp.delete("/api/users/<user_id>")
async def delete_user(user_id: str) -> Response:
    require_admin()
    s = services()
    s.users.require(user_id)
    if user_id == current_user().id:
        raise Forbidden("you cannot delete yourself")
    for actor in s.supervisor.visible(user_id):
        await s.supervisor.delete(actor.id)
    await s.users.delete(user_id)
    return jsonify({"success": True, "message": f"User {user_id} deleted successfully"})
