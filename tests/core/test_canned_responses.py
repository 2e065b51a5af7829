"""Canned responses: CRUD per tenant, shortcuts unique and well formed, managers write, agents read."""

from __future__ import annotations

from typing import Any

import httpx2

from tests.helpers import TEST_PASSWORD

BASE = "/admin/canned-responses"


async def test_a_canned_response_is_created_listed_edited_and_deleted(client: httpx2.AsyncClient,
                                                                       make_tenant: Any) -> None:
    t = await make_tenant("canned")
    r = await client.post(BASE, headers=t.headers, json={
        "shortcut": "envio", "title": "Envíos", "content": "Enviamos a todo el país en 24-48 h."})
    assert r.status_code == 201, r.text
    envio = r.json()
    await client.post(BASE, headers=t.headers, json={"shortcut": "abrimos", "title": "Horario",
                                                      "content": "Abrimos de 9 a 19 h."})
    listed = (await client.get(BASE, headers=t.headers)).json()
    assert [c["shortcut"] for c in listed] == ["abrimos", "envio"]

    r = await client.patch(f"{BASE}/{envio['id']}", headers=t.headers, json={"shortcut": "envios",
                                                                           "content": "Envío gratis desde 30 €."})
    assert r.status_code == 200 and (r.json()["shortcut"], r.json()["title"], r.json()["content"]) == (
        "envios", "Envíos", "Envío gratis desde 30 €.")
    assert (await client.delete(f"{BASE}/{envio['id']}", headers=t.headers)).status_code == 204
    assert [c["shortcut"] for c in (await client.get(BASE, headers=t.headers)).json()] == ["abrimos"]
    r = await client.get(f"{BASE}/{envio['id']}", headers=t.headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "canned_response_not_found"

    other = await make_tenant("canned-other")  # shortcuts are per tenant
    assert (await client.post(BASE, headers=other.headers, json={
        "shortcut": "abrimos", "title": "Otro", "content": "Otro horario"})).status_code == 201


async def test_a_taken_shortcut_is_409_and_bad_fields_are_422_with_details(client: httpx2.AsyncClient,
                                                                            make_tenant: Any) -> None:
    t = await make_tenant("canned-bad")
    body = {"shortcut": "hola", "title": "Saludo", "content": "¡Hola! ¿En qué te ayudo?"}
    assert (await client.post(BASE, headers=t.headers, json=body)).status_code == 201
    r = await client.post(BASE, headers=t.headers, json={**body, "title": "Otro"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "canned_response_exists"
    second = (await client.post(BASE, headers=t.headers, json={**body, "shortcut": "adios"})).json()
    r = await client.patch(f"{BASE}/{second['id']}", headers=t.headers, json={"shortcut": "hola"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "canned_response_exists"

    for bad, field, kind in (({"shortcut": "Con Espacio"}, "shortcut", "shortcut_format"),
                             ({"shortcut": "x" * 33}, "shortcut", "shortcut_format"),
                             ({"shortcut": ""}, "shortcut", "shortcut_format"),
                             ({"title": "  "}, "title", "blank"),
                             ({"content": "y" * 4097}, "content", "too_long")):
        r = await client.post(BASE, headers=t.headers, json={**body, **bad})
        assert r.status_code == 422, r.text
        detail = r.json()["error"]["details"][0]
        assert (detail["field"], detail["type"]) == (field, kind)


async def test_agents_read_them_and_only_managers_write(app: Any, client: httpx2.AsyncClient,
                                                        make_tenant: Any) -> None:
    t = await make_tenant("canned-roles")
    made = (await client.post(BASE, headers=t.headers, json={"shortcut": "hola", "title": "Saludo",
                                                              "content": "¡Hola!"})).json()
    email = f"agent@{t.slug}.test"
    r = await client.post("/admin/members", headers=t.headers,
                          json={"email": email, "password": TEST_PASSWORD, "role": "agent"})
    assert r.status_code == 201, r.text
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://testserver") as agent:
        session = (await agent.post("/api/auth/login", json={"email": email, "password": TEST_PASSWORD})).json()
        headers = {"X-CSRF-Token": session["csrf_token"]}
        assert [c["shortcut"] for c in (await agent.get(BASE)).json()] == ["hola"]
        for method, url, body in (("POST", BASE, {"shortcut": "x", "title": "x", "content": "x"}),
                                  ("PATCH", f"{BASE}/{made['id']}", {"title": "y"}),
                                  ("DELETE", f"{BASE}/{made['id']}", None)):
            r = await agent.request(method, url, headers=headers, json=body)
            assert r.status_code == 403, (method, r.text)
