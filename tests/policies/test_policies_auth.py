"""JWT verification and authorization edge cases (no network, injected clock)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import jwt
import pytest
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from unispec.errors import GatewayConfigError
from unispec.gateway.auth import (
    IDENTITY_HEADERS,
    AuthFailure,
    AuthPolicy,
    Identity,
    JWTVerifier,
    authorize,
    identity_headers,
    is_identity_header,
)
from unispec.tokens import mint_token, resolve_secret

SECRET = "test-secret-that-is-long-enough-for-hs256!"
NOW = 1_800_000_000.0


class Clock:
    def __init__(self, t: float = NOW) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def hs_verifier(clock: Clock | None = None, **settings: Any) -> JWTVerifier:
    base: dict[str, Any] = {"algorithms": ["HS256"], "secret_env": "T_SECRET", "leeway": 30}
    base.update(settings)
    return JWTVerifier.from_settings(base, env={"T_SECRET": SECRET}, clock=clock or Clock())


def token(**kw: Any) -> str:
    args: dict[str, Any] = {"sub": "u1", "roles": ["instructor"], "tier": "pro", "now": NOW}
    args.update(kw)
    return mint_token(SECRET, **args)


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def failure(verifier: JWTVerifier, tok: str) -> AuthFailure:
    with pytest.raises(AuthFailure) as info:
        verifier.verify(tok)
    return info.value


def test_valid_hs256_token_gives_identity() -> None:
    ident = hs_verifier().verify(token(scope="read write"))
    assert ident == Identity("u1", frozenset({"instructor"}), "pro", frozenset({"read", "write"}))
    assert ident.claims["sub"] == "u1"


def test_missing_and_malformed_header_are_401_with_www_authenticate() -> None:
    v = hs_verifier()
    with pytest.raises(AuthFailure) as info:
        v.verify_authorization(None)
    assert (info.value.status, info.value.code) == (401, "UNAUTHORIZED")
    assert info.value.www_authenticate == 'Bearer realm="unispec"'
    for bad in ("Basic abc", "Bearer", "Bearer    ", "token"):
        with pytest.raises(AuthFailure) as info:
            v.verify_authorization(bad)
        assert info.value.code == "UNAUTHORIZED"
        assert 'error="invalid_token"' in (info.value.www_authenticate or "")
    assert v.verify_authorization("bearer " + token()).subject == "u1"


def test_garbage_and_wrong_signature_are_unauthorized() -> None:
    v = hs_verifier()
    assert failure(v, "not.a.jwt").code == "UNAUTHORIZED"
    assert failure(v, "abc").code == "UNAUTHORIZED"
    other = mint_token("another-secret-that-is-long-enough-!!!", "u1", now=NOW)
    f = failure(v, other)
    assert (f.status, f.code) == (401, "UNAUTHORIZED")
    assert "signature" in f.message
    # Tampered payload, original signature.
    head, _, sig = token().split(".")
    forged = f"{head}.{b64({'sub': 'admin', 'roles': ['admin'], 'exp': NOW + 999})}.{sig}"
    assert failure(v, forged).code == "UNAUTHORIZED"


def test_alg_none_is_rejected_even_when_unsigned() -> None:
    v = hs_verifier()
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64({'sub': 'u1', 'exp': NOW + 60})}."
    f = failure(v, unsigned)
    assert f.code == "UNAUTHORIZED" and "none" in f.message
    for alg in ("None", "NONE", "nOnE"):
        t = f"{b64({'alg': alg})}.{b64({'sub': 'u1', 'exp': NOW + 60})}."
        assert failure(v, t).code == "UNAUTHORIZED"
    with pytest.raises(GatewayConfigError, match="none"):
        hs_verifier(algorithms=["none"])


def test_algorithm_confusion_hs256_signed_with_rsa_public_key(
    tmp_path: Path, rsa_pair: Any
) -> None:
    (tmp_path / "pub.pem").write_bytes(rsa_pair.public_pem)
    settings = {
        "algorithms": ["RS256", "HS256"],
        "secret_env": "T_SECRET",
        "public_key_file": "pub.pem",
    }
    v = JWTVerifier.from_settings(
        settings, env={"T_SECRET": SECRET}, base_dir=tmp_path, clock=Clock()
    )
    # The legitimate RS256 token passes.
    good = mint_token(rsa_pair.private_pem, "u1", ["admin"], now=NOW, algorithm="RS256")
    assert v.verify(good).roles == {"admin"}
    # The attack: an HS256 token whose HMAC key is the (public) RSA key's PEM bytes.
    import hashlib
    import hmac

    head = b64({"alg": "HS256", "typ": "JWT"})
    body = b64({"sub": "attacker", "roles": ["admin"], "exp": NOW + 600})
    mac = hmac.new(rsa_pair.public_pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    forged = f"{head}.{body}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    assert failure(v, forged).code == "UNAUTHORIZED"
    # With RS256 only, any HS256 token is refused before any key is tried.
    rs_only = JWTVerifier.from_settings(
        {"algorithms": ["RS256"], "public_key_file": "pub.pem"}, env={}, base_dir=tmp_path
    )
    f = failure(rs_only, forged)
    assert "HS256" in f.message


def test_expired_is_token_expired_within_leeway_is_fine() -> None:
    clock = Clock()
    v = hs_verifier(clock)
    t = token(ttl=60)
    clock.t = NOW + 60 + 29.999
    assert v.verify(t).subject == "u1"
    clock.t = NOW + 60 + 30
    f = failure(v, t)
    assert (f.status, f.code) == (401, "TOKEN_EXPIRED")
    assert 'error="invalid_token"' in (f.www_authenticate or "")
    # Expired with a bad signature is UNAUTHORIZED, not TOKEN_EXPIRED (the signature goes first).
    bad = mint_token("another-secret-that-is-long-enough-!!!", "u1", ttl=1, now=NOW - 1000)
    assert failure(v, bad).code == "UNAUTHORIZED"


def test_cached_token_still_expires() -> None:
    clock = Clock()
    v = hs_verifier(clock, leeway=0)
    t = token(ttl=10)
    assert v.verify(t).subject == "u1"
    assert v.verify(t).subject == "u1"  # served from the cache
    clock.t = NOW + 10
    assert failure(v, t).code == "TOKEN_EXPIRED"


def test_cache_is_bounded_and_keeps_recent_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    from unispec.gateway import auth

    monkeypatch.setattr(auth, "_CACHE_MAX", 50)
    v = hs_verifier()
    tokens = [token(sub=f"u{i}") for i in range(auth._CACHE_MAX + 5)]
    for t in tokens:
        v.verify(t)
    assert len(v._cache) <= auth._CACHE_MAX
    assert tokens[-1] in v._cache and tokens[0] not in v._cache


def test_nbf_in_future_and_missing_exp() -> None:
    clock = Clock()
    v = hs_verifier(clock, leeway=5)
    t = token(nbf=NOW + 100)
    assert failure(v, t).code == "UNAUTHORIZED"
    clock.t = NOW + 95
    assert v.verify(t).subject == "u1"
    no_exp = jwt.encode({"sub": "u1"}, SECRET, algorithm="HS256")
    assert "exp" in failure(v, no_exp).message
    assert hs_verifier(require_exp=False).verify(no_exp).subject == "u1"
    weird = jwt.encode({"sub": "u1", "exp": "tomorrow"}, SECRET, algorithm="HS256")
    assert failure(v, weird).code == "UNAUTHORIZED"


def test_issuer_and_audience_when_configured() -> None:
    v = hs_verifier(issuer="https://issuer.test", audience="unispec")
    ok = token(iss="https://issuer.test", aud="unispec")
    assert v.verify(ok).subject == "u1"
    assert "issuer" in failure(v, token(iss="https://evil.test", aud="unispec")).message
    assert "'iss'" in failure(v, token(aud="unispec")).message
    assert "audience" in failure(v, token(iss="https://issuer.test", aud="other")).message
    assert "aud" in failure(v, token(iss="https://issuer.test")).message
    assert v.verify(token(iss="https://issuer.test", aud=["x", "unispec"])).subject == "u1"
    # Not configured: iss is not checked.
    assert hs_verifier().verify(token(iss="anything")).subject == "u1"


def test_missing_subject_and_bad_claim_types() -> None:
    v = hs_verifier()
    no_sub = jwt.encode({"exp": NOW + 60, "roles": ["a"]}, SECRET, algorithm="HS256")
    assert "subject" in failure(v, no_sub).message
    assert v.verify(token(roles=[])).roles == frozenset()
    typed = jwt.encode({"sub": "u1", "exp": NOW + 60, "roles": 7}, SECRET, algorithm="HS256")
    assert "roles" in failure(v, typed).message
    string_roles = jwt.encode(
        {"sub": "u1", "exp": NOW + 60, "roles": "admin instructor"}, SECRET, algorithm="HS256"
    )
    assert v.verify(string_roles).roles == {"admin", "instructor"}


def test_configurable_claim_names_including_nested() -> None:
    v = hs_verifier(claims={"subject": "uid", "roles": "realm_access.roles", "tier": "plan"})
    t = jwt.encode(
        {"uid": "42", "exp": NOW + 60, "realm_access": {"roles": ["admin"]}, "plan": "basic"},
        SECRET,
        algorithm="HS256",
    )
    ident = v.verify(t)
    assert (ident.subject, ident.roles, ident.tier) == ("42", {"admin"}, "basic")
    with pytest.raises(GatewayConfigError, match="claims/nope"):
        hs_verifier(claims={"nope": "x"})


def test_authorize_roles_and_scopes() -> None:
    ident = Identity("u1", frozenset({"student"}), "free", frozenset({"courses:read"}))
    authorize(ident)
    authorize(ident, ["student", "admin"])
    with pytest.raises(AuthFailure) as info:
        authorize(ident, ["instructor", "admin"])
    assert (info.value.status, info.value.code) == (403, "FORBIDDEN")
    assert "instructor" in info.value.message
    authorize(ident, (), ["courses:read"])
    with pytest.raises(AuthFailure) as info:
        authorize(ident, (), ["courses:read", "courses:write"])
    assert info.value.code == "FORBIDDEN"
    assert 'error="insufficient_scope"' in (info.value.www_authenticate or "")
    no_roles = Identity("u2")
    with pytest.raises(AuthFailure):
        authorize(no_roles, ["admin"])


DOC: dict[str, Any] = {
    "components": {
        "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            "oauth": {"type": "oauth2", "flows": {}},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-Key"},
        }
    }
}


def test_auth_policy_from_operation() -> None:
    v = hs_verifier()
    public = AuthPolicy.from_operation({"security": []}, DOC)
    assert not public.required
    assert public.check(v, None) is None
    secured = AuthPolicy.from_operation(
        {"security": [{"bearerAuth": []}], "x-roles": ["instructor", "admin"]}, DOC
    )
    assert secured.required and secured.roles == ("instructor", "admin")
    with pytest.raises(AuthFailure) as info:
        secured.check(v, None)
    assert info.value.status == 401
    assert secured.check(v, "Bearer " + token()).subject == "u1"
    with pytest.raises(AuthFailure) as info:
        secured.check(v, "Bearer " + token(roles=["student"]))
    assert info.value.status == 403
    scoped = AuthPolicy.from_operation({"security": [{"oauth": ["courses:write"]}]}, DOC)
    with pytest.raises(AuthFailure) as info:
        scoped.check(v, "Bearer " + token(scope="courses:read"))
    assert info.value.code == "FORBIDDEN"
    assert scoped.check(v, "Bearer " + token(scope="courses:write")).subject == "u1"
    # Document-level security applies when the operation has none.
    inherited = AuthPolicy.from_operation({}, {**DOC, "security": [{"bearerAuth": []}]})
    assert inherited.required
    optional = AuthPolicy.from_operation({"security": [{}, {"bearerAuth": []}]}, DOC)
    assert not optional.required and optional.check(v, None) is None
    assert optional.check(v, "Bearer " + token()) is not None
    assert not AuthPolicy.from_operation({"security": [{"apiKey": []}]}, DOC).required
    # x-roles on an operation marked public: the token is required anyway (fail safe).
    contradictory = AuthPolicy.from_operation({"security": [], "x-roles": ["admin"]}, DOC)
    assert contradictory.required
    with pytest.raises(AuthFailure) as info:
        contradictory.check(v, None)
    assert info.value.status == 401
    assert contradictory.check(v, "Bearer " + token(roles=["admin"])) is not None


def test_identity_headers_are_the_stripped_set() -> None:
    ident = Identity("u1", frozenset({"b", "a"}), "pro", frozenset({"s"}))
    headers = identity_headers(ident)
    assert headers == [
        ("x-user-id", "u1"),
        ("x-user-roles", "a,b"),
        ("x-user-tier", "pro"),
        ("x-user-scopes", "s"),
    ]
    assert {h for h, _ in headers} <= set(IDENTITY_HEADERS)
    for name in ("X-User-Id", "x_user_id", b"X_USER_ROLES", "x-user-anything"):
        assert is_identity_header(name)
    for name in ("x-userid", "authorization", "x-request-id"):
        assert not is_identity_header(name)


def test_rs256_and_es256_with_pem_and_jwks(tmp_path: Path, rsa_pair: Any, ec_pair: Any) -> None:
    rsa_jwk = json.loads(RSAAlgorithm.to_jwk(rsa_pair.public_key))
    ec_jwk = json.loads(ECAlgorithm.to_jwk(ec_pair.public_key))
    rsa_jwk.update(kid="r1", use="sig")
    ec_jwk.update(kid="e1", alg="ES256")
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [rsa_jwk, ec_jwk]}))
    v = JWTVerifier.from_settings(
        {"algorithms": ["RS256", "ES256"], "jwks_file": "jwks.json"},
        env={},
        base_dir=tmp_path,
        clock=Clock(),
    )
    rs = mint_token(rsa_pair.private_pem, "r", now=NOW, algorithm="RS256", headers={"kid": "r1"})
    es = mint_token(ec_pair.private_pem, "e", now=NOW, algorithm="ES256", headers={"kid": "e1"})
    assert v.verify(rs).subject == "r"
    assert v.verify(es).subject == "e"
    unknown = mint_token(
        rsa_pair.private_pem, "r", now=NOW, algorithm="RS256", headers={"kid": "zz"}
    )
    assert "kid" in failure(v, unknown).message
    # A token signed by the EC key but claiming the RSA key id fails.
    swapped = mint_token(
        ec_pair.private_pem, "e", now=NOW, algorithm="ES256", headers={"kid": "r1"}
    )
    assert failure(v, swapped).code == "UNAUTHORIZED"
    # PEM file with ES256.
    (tmp_path / "ec.pem").write_bytes(ec_pair.public_pem)
    pem = JWTVerifier.from_settings(
        {"algorithms": ["ES256"], "public_key_file": "ec.pem"}, env={}, base_dir=tmp_path
    )
    assert pem.verify(mint_token(ec_pair.private_pem, "e", algorithm="ES256")).subject == "e"
    # An EC key configured for RS256 only verifies nothing: refused at start-up.
    with pytest.raises(GatewayConfigError, match="verifies none"):
        JWTVerifier.from_settings(
            {"algorithms": ["RS256"], "public_key_file": "ec.pem"}, env={}, base_dir=tmp_path
        )
    with pytest.raises(GatewayConfigError, match="secretenv"):
        JWTVerifier.from_settings({"secretenv": "X"}, env={})
    # A private key configured by mistake is a clear configuration error.
    (tmp_path / "priv.pem").write_bytes(ec_pair.private_pem)
    with pytest.raises(GatewayConfigError, match="PUBLIC"):
        JWTVerifier.from_settings(
            {"algorithms": ["ES256"], "public_key_file": "priv.pem"}, env={}, base_dir=tmp_path
        )


def test_jwks_url_must_be_loopback_and_is_fetched_once(rsa_pair: Any) -> None:
    jwk = json.loads(RSAAlgorithm.to_jwk(rsa_pair.public_key))
    calls: list[str] = []

    def fetch(url: str) -> dict[str, Any]:
        calls.append(url)
        return {"keys": [jwk]}

    v = JWTVerifier.from_settings(
        {"algorithms": ["RS256"], "jwks_url": "http://127.0.0.1:9/jwks.json"},
        env={},
        jwks_fetcher=fetch,
    )
    for _ in range(3):
        v.verify(mint_token(rsa_pair.private_pem, "r", algorithm="RS256", now=None))
    assert calls == ["http://127.0.0.1:9/jwks.json"]
    with pytest.raises(GatewayConfigError, match="loopback"):
        JWTVerifier.from_settings(
            {"algorithms": ["RS256"], "jwks_url": "http://10.0.0.1/jwks.json"},
            env={},
            jwks_fetcher=fetch,
        )


def test_jwks_url_real_fetch_over_loopback(rsa_pair: Any) -> None:
    import http.server
    import threading

    body = json.dumps({"keys": [json.loads(RSAAlgorithm.to_jwk(rsa_pair.public_key))]}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
        v = JWTVerifier.from_settings({"algorithms": ["RS256"], "jwks_url": url}, env={})
        assert v.verify(mint_token(rsa_pair.private_pem, "r", algorithm="RS256")).subject == "r"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_secret_resolution_env_then_dev_secret(caplog: pytest.LogCaptureFixture) -> None:
    settings = {"secret_env": "MY_SECRET", "dev_secret": "dev-secret"}
    assert resolve_secret(settings, {"MY_SECRET": "from-env"}) == "from-env"
    with caplog.at_level("WARNING"):
        assert resolve_secret(settings, {}) == "dev-secret"
    assert "MY_SECRET" in caplog.text
    with pytest.raises(GatewayConfigError, match="UNISPEC_JWT_SECRET"):
        JWTVerifier.from_settings({"algorithms": ["HS256"]}, env={})
    with pytest.raises(GatewayConfigError, match="RS"):
        JWTVerifier.from_settings({"algorithms": ["RS256"]}, env={})
