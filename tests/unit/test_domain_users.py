"""The User aggregate and its validation helpers. Pure, no I/O."""

from __future__ import annotations

import pytest

from wamux.domain.errors import Conflict, ValidationFailed
from wamux.domain.events import ApiKeyRotated, UserCreated, UserDeleted, UserUpdated
from wamux.domain.users import User, check_password, check_role, check_user_body, normalize_email

UID = "user-1"


def new_user(**overrides: str) -> User:
    fields = {
        "email": "  John.Doe@Example.COM ",
        "password_hash": "$2b$hash",
        "api_key_hash": "keyhash",
        "first_name": " John ",
        "last_name": "Doe ",
        "role": "user",
        **overrides,
    }
    user = User(id=UID)
    for i, event in enumerate(User.create(UID, **fields)):
        user.apply(event, 1_000 + i)
    return user


def test_create_normalizes_and_folds() -> None:
    (event,) = User.create(
        UID,
        email=" A@B.Co ",
        password_hash="h",
        api_key_hash="k",
        first_name=" A ",
        last_name=" B ",
        role="admin",
    )
    assert event == UserCreated(
        user_id=UID,
        email="a@b.co",
        password_hash="h",
        api_key_hash="k",
        first_name="A",
        last_name="B",
        role="admin",
    )
    user = new_user()
    assert (user.email, user.first_name, user.last_name, user.role) == ("john.doe@example.com", "John", "Doe", "user")
    assert user.created_ms == 1_000 and user.updated_ms == 1_000 and user.version == 1


@pytest.mark.parametrize("email", ["", "plain", "a@b", "a b@c.de", "@c.de", "a@@c.de", "x" * 250 + "@c.de"])
def test_bad_email(email: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        normalize_email(email)
    assert info.value.details == {"email": "email is not a valid address"}


def test_bad_role_and_password() -> None:
    with pytest.raises(ValidationFailed) as info:
        check_role("root")
    assert info.value.details == {"role": "role must be admin or user"}
    with pytest.raises(ValidationFailed) as info:
        User.create(UID, email="a@b.co", password_hash="h", api_key_hash="k", first_name="", last_name="", role="x")
    assert info.value.details == {"role": "role must be admin or user"}
    with pytest.raises(ValidationFailed) as info:
        check_password("12345")
    assert info.value.details == {"password": "password must have at least 6 characters"}
    with pytest.raises(ValidationFailed) as info:
        check_password("é" * 37)  # 74 bytes: bcrypt would silently cut it
    assert info.value.details == {"password": "password must be at most 72 bytes"}
    check_password("123456")
    check_password("x" * 72)


def test_update_keeps_only_real_changes() -> None:
    user = new_user()
    assert user.update({"first_name": "John", "role": "user"}) == []
    events = user.update({"first_name": "Johnny", "last_name": "Doe"})
    assert events == [UserUpdated(user_id=UID, changes={"first_name": "Johnny"})]
    user.apply(events[0], 2_000)
    assert user.first_name == "Johnny" and user.updated_ms == 2_000 and user.version == 2


def test_rotate_then_delete_then_conflict() -> None:
    user = new_user()
    (rotated,) = user.rotate_api_key("newhash")
    assert rotated == ApiKeyRotated(user_id=UID, api_key_hash="newhash")
    user.apply(rotated, 3_000)
    assert user.api_key_hash == "newhash"
    (deleted,) = user.delete()
    assert deleted == UserDeleted(user_id=UID)
    user.apply(deleted, 4_000)
    assert user.deleted is True and user.version == 3
    for command in (user.delete, lambda: user.rotate_api_key("x"), lambda: user.update({"role": "admin"})):
        with pytest.raises(Conflict):
            command()


def test_token_version_moves_with_password_changes_only() -> None:
    """JWTs carry this number (API-2 §8 "Sessions"): a new password must move it, nothing else may."""
    user = new_user()
    for events in (
        user.update({"first_name": "Jo", "role": "admin"}),
        user.rotate_api_key("k2"),
        user.seen("2024-01-01"),
    ):
        for event in events:
            user.apply(event, 2_000)
    assert user.token_version == 0
    for n in (1, 2):
        for event in user.update({"password_hash": f"$2b$new{n}"}):
            user.apply(event, 3_000)
        assert user.token_version == n


def test_a_new_user_body_reports_every_problem_at_once() -> None:
    with pytest.raises(ValidationFailed) as info:
        body = {"email": " ", "role": "root", "firstName": "x" * 101, "lastName": 3}
        check_user_body(body, creating=True, as_admin=True)
    assert info.value.details == {
        "email": "email is required",
        "password": "password is required",
        "firstName": "firstName must be at most 100 characters",
        "lastName": "lastName must be a string",
        "role": "role must be admin or user",
    }
    assert "email is required" in info.value.message and "role must be admin or user" in info.value.message
    check_user_body({"email": "a@b.co", "password": "123456", "firstName": None}, creating=True, as_admin=True)


def test_an_update_body_reports_every_problem_and_keeps_a_lone_one_as_is() -> None:
    with pytest.raises(ValidationFailed) as info:
        check_user_body({"email": "a@b.co", "role": "admin", "password": "1"}, creating=False, as_admin=False)
    assert info.value.details == {
        "email": "only an admin can change an email",
        "password": "password must have at least 6 characters",
        "role": "only an admin can change a role",
    }
    with pytest.raises(ValidationFailed) as info:
        check_user_body({"firstName": None}, creating=False, as_admin=False)
    assert info.value.message == "firstName must be a string"
    check_user_body({"firstName": "Ann", "password": "123456"}, creating=False, as_admin=False)
