"""An example shop service: orders behind Rampart's policy, card numbers only as vault tokens.

Run it against a Rampart (environment): ``RAMPART_URL``, ``SHOP_AUDIENCE`` (what the callers'
tokens are addressed to), ``SHOP_CLIENT_ID`` and ``SHOP_CLIENT_SECRET`` (the shop's own client),
then ``uvicorn --factory examples.shop.app:create_app``.
"""

from __future__ import annotations

import os
import threading
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel, Field

from rampart_sdk import AccessToken, Rampart
from rampart_sdk.fastapi import install, require

OrdersReader = Annotated[AccessToken, Depends(require("orders", "read"))]
OrdersWriter = Annotated[AccessToken, Depends(require("orders", "write"))]
RefundIssuer = Annotated[AccessToken, Depends(require("orders/refunds", "create", introspect=True))]


class OrderIn(BaseModel):
    item: str = Field(min_length=1, max_length=100)
    card_number: str = Field(min_length=12, max_length=19, repr=False)


class OrderOut(BaseModel):
    id: int
    item: str
    card_token: str
    owner: str


def create_app(rampart: Rampart | None = None) -> FastAPI:
    app = FastAPI(title="Example shop")
    rampart = rampart or Rampart(
        os.environ["RAMPART_URL"],
        issuer=os.environ.get("RAMPART_ISSUER"),
        audience=os.environ["SHOP_AUDIENCE"],
        client_id=os.environ["SHOP_CLIENT_ID"],
        client_secret=os.environ["SHOP_CLIENT_SECRET"],
    )
    install(app, rampart)
    orders: dict[int, OrderOut] = {}
    lock = threading.Lock()

    @app.post("/orders", status_code=201)
    def create_order(body: OrderIn, caller: OrdersWriter) -> OrderOut:
        # The card number never reaches this service's storage: only its vault token does.
        token = rampart.vault.tokenize("pan", body.card_number)
        with lock:
            order = OrderOut(
                id=len(orders) + 1,
                item=body.item,
                card_token=token.token,
                owner=caller.casbin_subject,
            )
            orders[order.id] = order
        return order

    @app.get("/orders/{order_id}")
    def read_order(order_id: int, _caller: OrdersReader) -> OrderOut:
        order = orders.get(order_id)
        if order is None:
            raise HTTPException(404, "no such order")
        return order

    @app.post("/orders/{order_id}/refunds", status_code=202)
    def refund(order_id: int, _caller: RefundIssuer) -> dict[str, str]:
        order = orders.get(order_id)
        if order is None:
            raise HTTPException(404, "no such order")
        card = rampart.vault.detokenize("pan", order.card_token, purpose="payment.refund")
        return {"status": "refund sent", "card_last4": card[-4:]}

    return app
