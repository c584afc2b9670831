"""The Transit provider against a real OpenBao: token and AppRole auth (with the policy from
docs/kms.md), context binding, rotate + server-side rewrap, Ed25519 signing, error mapping."""

from __future__ import annotations

import secrets
import socket
import time

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from core.errors import KmsUnavailable
from core.kms.exceptions import KeyUnwrapFailed, KmsAccessDenied, KmsMisconfigured
from core.kms.provider import get_key_provider
from core.kms.vault import VaultTransitProvider
from core.settings import get_settings
from tests.core.kms.conftest import documented_policy, use_vault
from tests.fixtures.openbao import OpenBaoServer

DATA_KEY = secrets.token_bytes(32)


@pytest.fixture
def vault(openbao: OpenBaoServer, monkeypatch: pytest.MonkeyPatch) -> VaultTransitProvider:
    use_vault(monkeypatch, openbao)
    provider = get_key_provider()
    assert isinstance(provider, VaultTransitProvider)
    assert len(provider.ensure_keys()) == 2
    return provider


def test_ensure_keys_creates_a_derived_kek_once(
    vault: VaultTransitProvider, openbao: OpenBaoServer
) -> None:
    assert vault.ensure_keys() == []
    key = openbao.client().secrets.transit.read_key(vault.kek_name)["data"]
    assert (key["type"], key["derived"]) == ("aes256-gcm96", True)
    signing = openbao.client().secrets.transit.read_key(vault.signing_key_name)["data"]
    assert signing["type"] == "ed25519"


def test_ensure_keys_refuses_a_kek_without_derivation(
    openbao: OpenBaoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    kek, _ = use_vault(monkeypatch, openbao)
    openbao.client().secrets.transit.create_key(kek, key_type="aes256-gcm96")
    with pytest.raises(KmsMisconfigured, match="derived=true"):
        get_key_provider().ensure_keys()


def test_wrap_unwrap_round_trip_bound_to_context(vault: VaultTransitProvider) -> None:
    wrapped = vault.wrap(DATA_KEY, context=b"data-key:1")
    assert wrapped.ciphertext.startswith(b"vault:v1:")
    assert wrapped.kek_version == 1
    assert vault.unwrap(wrapped, context=b"data-key:1") == DATA_KEY
    with pytest.raises(KeyUnwrapFailed):
        vault.unwrap(wrapped, context=b"data-key:2")
    many = vault.wrap_many([(DATA_KEY, b"a"), (DATA_KEY[::-1], b"b")])
    assert [vault.unwrap(w, context=c) for w, c in zip(many, [b"a", b"b"], strict=True)] == [
        DATA_KEY,
        DATA_KEY[::-1],
    ]


def test_rotate_then_rewrap_in_transit(vault: VaultTransitProvider) -> None:
    old = vault.wrap(DATA_KEY, context=b"ctx")
    info = vault.rotate()
    assert (info.latest_version, info.versions, info.provider) == (2, (1, 2), "vault")
    assert info.created_at is not None
    assert vault.unwrap(old, context=b"ctx") == DATA_KEY
    moved = vault.rewrap(old, context=b"ctx")
    assert moved.kek_version == 2
    assert moved.ciphertext.startswith(b"vault:v2:")
    assert vault.unwrap(moved, context=b"ctx") == DATA_KEY
    with pytest.raises(KeyUnwrapFailed):
        vault.rewrap(old, context=b"other")


def test_sign_verifies_with_public_signing_key(vault: VaultTransitProvider) -> None:
    signature = vault.sign(b"evidence manifest")
    assert len(signature) == 64
    public = Ed25519PublicKey.from_public_bytes(vault.public_signing_key())
    public.verify(signature, b"evidence manifest")
    with pytest.raises(InvalidSignature):
        public.verify(signature, b"evidence manifest!")


def test_approle_login_with_the_documented_policy_and_relogin(
    openbao: OpenBaoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = openbao.client()
    mount = "approle-" + secrets.token_hex(3)
    root.sys.enable_auth_method("approle", path=mount)
    kek, signing = use_vault(monkeypatch, openbao)  # names only; auth switches to AppRole below
    policy = "rampart-" + secrets.token_hex(3)
    root.sys.create_or_update_policy(policy, documented_policy(kek, signing))
    root.auth.approle.create_or_update_approle(
        "rampart", token_policies=[policy], token_ttl="1h", mount_point=mount
    )
    role_id = root.auth.approle.read_role_id("rampart", mount_point=mount)["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id("rampart", mount_point=mount)["data"][
        "secret_id"
    ]
    monkeypatch.delenv("RAMPART_VAULT_TOKEN")
    use_vault(
        monkeypatch,
        openbao,
        RAMPART_VAULT_ROLE_ID=role_id,
        RAMPART_VAULT_SECRET_ID=secret_id,
        RAMPART_VAULT_APPROLE_MOUNT=mount,
        RAMPART_VAULT_TRANSIT_KEY=kek,
        RAMPART_VAULT_SIGNING_KEY=signing,
    )
    provider = get_key_provider()
    assert isinstance(provider, VaultTransitProvider)
    provider.ensure_keys()  # the documented policy allows creating the keys
    wrapped = provider.wrap(DATA_KEY, context=b"ctx")
    first_token = provider._client.token
    # A revoked (or early-expired) token is replaced by a fresh login, transparently.
    root.auth.token.revoke(first_token)
    assert provider.unwrap(wrapped, context=b"ctx") == DATA_KEY
    assert provider._client.token != first_token
    assert provider.rotate().latest_version == 2
    assert provider.rewrap(wrapped, context=b"ctx").kek_version == 2
    provider.public_signing_key()
    provider.sign(b"m")
    # Outside the policy: another transit key.
    other = VaultTransitProvider(
        get_settings().model_copy(update={"vault_transit_key": "not-allowed"})
    )
    with pytest.raises(KmsAccessDenied) as denied:
        other.wrap(DATA_KEY)
    assert secret_id not in str(denied.value) and role_id not in str(denied.value)


def test_wrong_approle_secret_is_access_denied(
    openbao: OpenBaoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = openbao.client()
    mount = "approle-" + secrets.token_hex(3)
    root.sys.enable_auth_method("approle", path=mount)
    root.auth.approle.create_or_update_approle("r", token_policies=["default"], mount_point=mount)
    role_id = root.auth.approle.read_role_id("r", mount_point=mount)["data"]["role_id"]
    monkeypatch.delenv("RAMPART_VAULT_TOKEN", raising=False)
    use_vault(
        monkeypatch,
        openbao,
        RAMPART_VAULT_ROLE_ID=role_id,
        RAMPART_VAULT_SECRET_ID="wrong-secret-id",
        RAMPART_VAULT_APPROLE_MOUNT=mount,
    )
    with pytest.raises(KmsAccessDenied) as denied:
        get_key_provider().wrap(DATA_KEY)
    assert "wrong-secret-id" not in str(denied.value)
    assert denied.value.status == 503


def test_bad_token_is_access_denied_without_echoing_it(
    openbao: OpenBaoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_vault(monkeypatch, openbao, RAMPART_VAULT_TOKEN="s.not-a-real-token")
    with pytest.raises(KmsAccessDenied) as denied:
        get_key_provider().info()
    assert "not-a-real-token" not in str(denied.value)
    assert openbao.addr in denied.value.detail


def test_unreachable_address_is_kms_unavailable(
    openbao: OpenBaoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    use_vault(monkeypatch, openbao, RAMPART_VAULT_ADDR=f"http://127.0.0.1:{closed_port}")
    with pytest.raises(KmsUnavailable) as caught:
        get_key_provider().wrap(DATA_KEY)
    assert caught.value.status == 503
    assert f"127.0.0.1:{closed_port}" in caught.value.detail
    assert openbao.token not in caught.value.detail


def test_missing_credentials_are_a_clear_configuration_error(
    openbao: OpenBaoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_vault(monkeypatch, openbao)
    monkeypatch.delenv("RAMPART_VAULT_TOKEN")
    get_settings.cache_clear()
    with pytest.raises(KmsMisconfigured, match="RAMPART_VAULT_TOKEN"):
        VaultTransitProvider(get_settings())


def test_a_server_that_never_answers_times_out_as_unavailable(
    openbao: OpenBaoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # accepts the connection (backlog) but never replies
        port = silent.getsockname()[1]
        use_vault(
            monkeypatch,
            openbao,
            RAMPART_VAULT_ADDR=f"http://127.0.0.1:{port}",
            RAMPART_VAULT_TIMEOUT="0.5",
        )
        started = time.monotonic()
        with pytest.raises(KmsUnavailable, match="unavailable"):
            get_key_provider().wrap(DATA_KEY)
    assert time.monotonic() - started < 5


def test_a_sealed_server_is_unavailable(
    openbao_disposable: OpenBaoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_vault(monkeypatch, openbao_disposable)
    provider = get_key_provider()
    provider.ensure_keys()
    provider.check()
    openbao_disposable.client().sys.seal()
    with pytest.raises(KmsUnavailable) as caught:
        provider.check()
    assert type(caught.value) is KmsUnavailable
    assert openbao_disposable.addr in caught.value.detail


def test_batches_larger_than_openbao_json_limits_are_chunked(vault: VaultTransitProvider) -> None:
    # OpenBao refuses a single request of ~250+ batch items; 450 needs three chunks.
    keys = [(secrets.token_bytes(32), f"ctx-{i}".encode()) for i in range(450)]
    wrapped = vault.wrap_many(keys)
    assert len(wrapped) == 450
    vault.rotate()
    moved = vault.rewrap_many([(w, ctx) for w, (_, ctx) in zip(wrapped, keys, strict=True)])
    assert {w.kek_version for w in moved} == {2}
    for index in (0, 199, 200, 449):
        assert vault.unwrap(moved[index], context=keys[index][1]) == keys[index][0]
