"""The CRM's own data: customers, their notes and invoices, in memory (a real service has its
database). Invoices are kept on erasure: commercial law requires them (the legal hold)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

RECTIFIABLE = ("name", "email", "phone")


@dataclass
class Customer:
    subject: str
    name: str
    email: str
    phone: str
    marketing: bool = True
    restricted: bool = False
    objections: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Invoice:
    number: str
    subject: str
    amount_cents: int
    billed_name: str


class Crm:
    """Thread-safe: the SDK runs handlers in the threadpool."""

    def __init__(self) -> None:
        self.customers: dict[str, Customer] = {}
        self.invoices: list[Invoice] = []
        self.lock = threading.Lock()

    def add(self, customer: Customer, invoices: int = 1) -> None:
        with self.lock:
            self.customers[customer.subject] = customer
            for n in range(invoices):
                number = f"INV-{len(self.invoices) + 1:05d}"
                self.invoices.append(Invoice(number, customer.subject, 1999 + n, customer.name))

    def seed_demo(self, subject: str) -> None:
        """Demo records for ``subject`` (the values are invented)."""
        n = len(self.customers) + 1
        self.add(
            Customer(
                subject=subject,
                name=f"Demo Customer {n}",
                email=f"customer{n}@shop.example",
                phone=f"+44 20 7946 {n:04d}",
                notes=["called about a late delivery", "prefers e-mail"],
            ),
            invoices=2,
        )

    def invoices_of(self, subject: str) -> list[Invoice]:
        return [i for i in self.invoices if i.subject == subject]

    def stats(self) -> dict[str, Any]:
        """Counts only (what the end-to-end test may read without any personal data)."""
        with self.lock:
            return {
                "customers": len(self.customers),
                "invoices": len(self.invoices),
                "restricted": sum(c.restricted for c in self.customers.values()),
            }
