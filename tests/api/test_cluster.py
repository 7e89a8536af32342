"""Cluster membership over HTTP: a server that is not part of a cluster is its only node (API-2.md §10)."""

from __future__ import annotations

from tests.harness import Api


async def test_a_single_server_lists_itself_and_names_itself_on_its_instances(admin: Api, server, unique_email) -> None:
    iid = await admin.connected_instance("Clustered")
    r = await admin.get("/api/cluster/nodes")
    assert r.status_code == 200, r.text
    (node,) = r.json()["nodes"]
    assert node["self"] is True and node["alive"] is True and node["draining"] is False
    assert node["url"] == server.url and node["instances"] >= 1 and node["lastSeen"].endswith("Z")
    assert (await admin.get(f"/api/instances/{iid}")).json()["node"] == node["id"]
    listed = (await admin.get("/api/instances")).json()["instances"]
    assert {i["node"] for i in listed if i["id"] == iid} == {node["id"]}

    user = await admin.new_user(unique_email())
    async with Api(server.url, api_key=user["apiKey"]) as u:
        assert (await u.get("/api/cluster/nodes")).status_code == 403
    async with Api(server.url) as anonymous:
        assert (await anonymous.get("/api/cluster/nodes")).status_code == 401
