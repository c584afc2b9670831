"""Role links ``g(user, role, domain)`` and the closure of a user's roles in one domain.

Mirrors pycasbin's DomainManager: links live in their own domain only (no domain pattern), and
``g(a, b, d)`` holds when a == b or b is reachable from a within MAX_HIERARCHY_HOPS links of d.
"""

from __future__ import annotations

# pycasbin's Enforcer builds DomainManager(10); its breadth-first search checks depth 0 with
# level 10 and gives up at level 0, so a role up to 9 links away is reached and 10 is not.
MAX_HIERARCHY_LEVEL = 10
MAX_HIERARCHY_HOPS = MAX_HIERARCHY_LEVEL - 1


class DomainRoleGraph:
    """Links by domain; closures computed on first use and dropped when their domain changes."""

    __slots__ = ("_closures", "_links")

    def __init__(self) -> None:
        self._links: dict[str, dict[str, set[str]]] = {}
        # Only users that have links are cached, so the cache is bounded by the policy's size.
        self._closures: dict[str, dict[str, frozenset[str]]] = {}

    def add_link(self, user: str, role: str, domain: str) -> bool:
        roles = self._links.setdefault(domain, {}).setdefault(user, set())
        if role in roles:
            return False
        roles.add(role)
        self._closures.pop(domain, None)
        return True

    def remove_link(self, user: str, role: str, domain: str) -> bool:
        users = self._links.get(domain)
        roles = users.get(user) if users is not None else None
        if roles is None or role not in roles:
            return False
        roles.discard(role)
        if not roles:
            del users[user]  # type: ignore[union-attr]
        if not users:
            del self._links[domain]
        self._closures.pop(domain, None)
        return True

    def has_link(self, user: str, role: str, domain: str) -> bool:
        return role in self.roles_of(user, domain)

    def roles_of(self, user: str, domain: str) -> frozenset[str]:
        """The user itself and every role it reaches in this domain (what ``g`` would accept)."""
        users = self._links.get(domain)
        if users is None or user not in users:
            return frozenset((user,))
        cache = self._closures.get(domain)
        if cache is None:
            cache = self._closures[domain] = {}
        closure = cache.get(user)
        if closure is None:
            closure = cache[user] = self._reach(users, user)
        return closure

    @staticmethod
    def _reach(users: dict[str, set[str]], user: str) -> frozenset[str]:
        seen = {user}
        frontier = [user]
        for _ in range(MAX_HIERARCHY_HOPS):
            next_frontier = []
            for name in frontier:
                for role in users.get(name, ()):
                    if role not in seen:
                        seen.add(role)
                        next_frontier.append(role)
            if not next_frontier:
                break
            frontier = next_frontier
        return frozenset(seen)

    def links(self) -> list[tuple[str, str, str]]:
        return [
            (user, role, domain)
            for domain, users in self._links.items()
            for user, roles in users.items()
            for role in sorted(roles)
        ]
