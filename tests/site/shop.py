"""A small shop for browsing-agent tests: products with prices and add-to-cart buttons that POST
to the site, which records each add per tag; a sign-in cookie shown server-side.

* ``/shop?t=TAG``: ``h1`` "Shop", ``p#account`` "Signed in as NAME" (from the ``shop_user``
  cookie) or "Not signed in", ``ul#products`` with one ``li.product[data-sku]`` per
  :data:`PRODUCTS` entry (``span.name``, ``span.price`` "$P", ``button.add`` "Add to cart"); a
  click POSTs ``{"sku"}`` to ``/shop/cart?t=TAG`` and then shows ``#cart-status`` "Added NAME to
  the cart (N items)". ``a#view-cart`` "View cart" → ``/shop/cart-page?t=TAG``. A ``#footer``
  1600 px further down makes the page taller than a viewport.
* ``POST /shop/cart?t=TAG`` records the sku; ``GET /shop/cart?t=TAG`` → ``{"t", "items": [sku…]}``.
* ``/shop/cart-page?t=TAG``: ``h1`` "Your cart", ``li.cart-item`` per added product name.
* ``/shop/login?user=NAME``: sets ``shop_user=NAME`` (path ``/``) and shows "Welcome NAME".
"""

from __future__ import annotations

import html
import json
import re
import threading

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

NO_STORE = {"Cache-Control": "no-store"}
PRODUCTS = [
    {"sku": "LAMP-1", "name": "Desk Lamp", "price": "$19.99"},
    {"sku": "MUG-2", "name": "Travel Mug", "price": "$24.50"},
    {"sku": "NOTE-3", "name": "Notebook", "price": "$7.25"},
]
_TAG = re.compile(r"[^A-Za-z0-9_-]")
_carts: dict[str, list[str]] = {}
_lock = threading.Lock()

SHOP = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<style>body {{ font-family: sans-serif; }} #spacer {{ height: 1600px; }}</style></head>
<body>
<h1>Shop</h1>
<p id="account">{account}</p>
<ul id="products">{items}</ul>
<p id="cart-status">Your cart is empty</p>
<p><a id="view-cart" href="/shop/cart-page?t={tag}">View cart</a></p>
<div id="spacer"></div>
<p id="footer">Thanks for shopping</p>
<script>
document.querySelectorAll('button.add').forEach((button) => button.addEventListener('click', async () => {{
  const li = button.closest('li');
  const r = await fetch('/shop/cart?t={tag}', {{method: 'POST',
    headers: {{'content-type': 'application/json'}}, body: JSON.stringify({{sku: li.dataset.sku}})}});
  const cart = await r.json();
  document.getElementById('cart-status').textContent =
    `Added ${{li.querySelector('.name').textContent}} to the cart (${{cart.items.length}} items)`;
}}));
</script>
</body></html>"""

ITEM = (
    '<li class="product" data-sku="{sku}"><span class="name">{name}</span> — '
    '<span class="price">{price}</span> <button class="add">Add to cart</button></li>'
)


def _tag(request: Request) -> str:
    return _TAG.sub("", request.query_params.get("t", "x"))[:40] or "x"


def cart(tag: str) -> list[str]:
    with _lock:
        return list(_carts.get(tag, []))


async def shop_page(request: Request) -> Response:
    user = request.cookies.get("shop_user")
    account = f"Signed in as {html.escape(user)}" if user else "Not signed in"
    items = "".join(ITEM.format(**p) for p in PRODUCTS)
    return HTMLResponse(SHOP.format(account=account, items=items, tag=_tag(request)), headers=NO_STORE)


async def cart_api(request: Request) -> Response:
    tag = _tag(request)
    if request.method == "POST":
        sku = str(json.loads(await request.body() or b"{}").get("sku", ""))
        with _lock:
            _carts.setdefault(tag, []).append(sku)
    return JSONResponse({"t": tag, "items": cart(tag)}, headers=NO_STORE)


async def cart_page(request: Request) -> Response:
    names = {p["sku"]: p["name"] for p in PRODUCTS}
    items = "".join(f'<li class="cart-item">{html.escape(names.get(s, s))}</li>' for s in cart(_tag(request)))
    body = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Your cart</title></head>'
        f'<body><h1>Your cart</h1><ul id="cart">{items}</ul>'
        '<a href="/shop">Back to the shop</a></body></html>'
    )
    return HTMLResponse(body, headers=NO_STORE)


async def login(request: Request) -> Response:
    user = request.query_params.get("user", "guest")[:40]
    body = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Signed in</title></head>'
        f'<body><h1 id="welcome">Welcome {html.escape(user)}</h1>'
        '<a href="/shop">Go shopping</a></body></html>'
    )
    response = HTMLResponse(body, headers=NO_STORE)
    response.set_cookie("shop_user", user, path="/", samesite="lax")
    return response


def routes() -> list[BaseRoute]:
    return [
        Route("/shop", shop_page),
        Route("/shop/cart", cart_api, methods=["GET", "POST"]),
        Route("/shop/cart-page", cart_page),
        Route("/shop/login", login),
    ]
