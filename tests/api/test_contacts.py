"""Contacts: live address book, add/save/import, search, groups, pagination, idempotent import."""

from __future__ import annotations

import pytest

from tests.harness import Api

pytestmark = pytest.mark.store_matters  # search, groups and paging are read-model queries


async def test_contacts_live_import_save_search(admin: Api) -> None:
    iid = await admin.connected_instance("Contacts")
    book = [
        {"phone": "79001110001", "name": "Alice Smith"},
        {"phone": "79001110002", "name": "bob jones"},
        {"phone": "79001110003", "name": "Carol"},
        {"id": "120363000000000001@g.us", "name": "Family group", "isGroup": True},
    ]
    assert (await admin.put(f"/api/simulator/instances/{iid}/contacts", json={"contacts": book})).status_code == 200
    live = (await admin.get(f"/api/whatsapp/{iid}/contacts")).json()["contacts"]
    assert {c["id"] for c in live} == {
        "79001110001@s.whatsapp.net",
        "79001110002@s.whatsapp.net",
        "79001110003@s.whatsapp.net",
        "120363000000000001@g.us",
    }
    assert next(c for c in live if c["number"] == "79001110002") == {
        "id": "79001110002@s.whatsapp.net",
        "name": "bob jones",
        "number": "79001110002",
        "isGroup": False,
    }
    for path in (f"/api/instances/{iid}/contacts/import", f"/api/whatsapp/{iid}/contacts/import"):
        r = await admin.post(path)
        assert r.status_code == 200
        assert r.json() == {"success": True, "message": "Imported 4 contacts", "importedCount": 4}
    db = (await admin.get(f"/api/instances/{iid}/contacts/db")).json()
    assert db["pagination"]["total"] == 4  # importing twice did not duplicate

    r = await admin.post(f"/api/whatsapp/{iid}/contacts/add", json={"phone": "+7 900 111-00-04", "name": "Dave"})
    assert r.json()["contact"] == {"id": "79001110004@s.whatsapp.net", "number": "79001110004", "name": "Dave"}
    saved = await admin.post(
        f"/api/instances/{iid}/contacts/save",
        json={"number": "79001110001", "name": "Alice S.", "about": "hi there", "pushName": "Ali"},
    )
    assert saved.status_code == 200
    doc = saved.json()
    assert doc["name"] == "Alice S." and doc["about"] == "hi there" and doc["pushName"] == "Ali"
    assert doc["remoteJid"] == "79001110001@s.whatsapp.net" and doc["instanceId"] == iid
    for key in (
        "id",
        "instanceId",
        "name",
        "number",
        "remoteJid",
        "pushName",
        "isGroup",
        "profilePicture",
        "about",
        "lastActivity",
        "createdAt",
        "updatedAt",
    ):
        assert key in doc

    # a sender seen in an incoming message joins the read model with its push name
    await admin.post(
        f"/api/simulator/instances/{iid}/incoming", json={"from": "79001119999", "body": "yo", "pushName": "Eve"}
    )
    db = (await admin.get(f"/api/whatsapp/{iid}/contacts/db")).json()
    assert db["pagination"]["total"] == 6
    eve = next(c for c in db["contacts"] if c["number"] == "79001119999")
    assert eve["pushName"] == "Eve" and eve["lastActivity"] is not None

    found = (await admin.get(f"/api/instances/{iid}/contacts/db", params={"search": "ALI"})).json()["contacts"]
    assert [c["number"] for c in found] == ["79001110001"]  # name "Alice S." (case-insensitive)
    found = (await admin.get(f"/api/instances/{iid}/contacts/db", params={"search": "1110002"})).json()["contacts"]
    assert [c["name"] for c in found] == ["bob jones"]
    groups = (await admin.get(f"/api/instances/{iid}/contacts/db", params={"onlyGroups": "true"})).json()
    assert [c["remoteJid"] for c in groups["contacts"]] == ["120363000000000001@g.us"]
    page = (await admin.get(f"/api/instances/{iid}/contacts/db", params={"limit": 2, "skip": 2})).json()
    assert len(page["contacts"]) == 2 and page["pagination"] == {"total": 6, "limit": 2, "skip": 2, "hasMore": True}
    r = await admin.get(f"/api/instances/{iid}/contacts/db", params={"onlyGroups": "maybe"})
    assert r.status_code == 400


async def test_live_contacts_need_a_connection(admin: Api) -> None:
    inst = await admin.create_instance("NoContacts")
    r = await admin.get(f"/api/whatsapp/{inst['id']}/contacts")
    assert r.status_code == 409 and r.json()["code"] == "instance_not_connected"
    r = await admin.post(f"/api/whatsapp/{inst['id']}/contacts/add", json={"phone": "nope", "name": "x"})
    assert r.status_code == 400
