"""Zero-trust authorization decisions: the indexed enforcer, its model and its conditions."""

from policies.enforcer.casbin_model import MODEL_PATH, new_casbin_enforcer
from policies.enforcer.conditions import DecisionContext, NetworkZones
from policies.enforcer.enforcer import Decision, IndexedEnforcer
from policies.enforcer.exceptions import PolicyInvalid
from policies.enforcer.rules import PolicyRule

__all__ = [
    "MODEL_PATH",
    "Decision",
    "DecisionContext",
    "IndexedEnforcer",
    "NetworkZones",
    "PolicyInvalid",
    "PolicyRule",
    "new_casbin_enforcer",
]
