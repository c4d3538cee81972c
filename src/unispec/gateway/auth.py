"""JWT authentication and role/scope authorization, compiled once at start-up.

Public API (pure: no network on the request path; the clock is injectable):

- ``JWTVerifier.from_settings(jwt_settings, env=os.environ, base_dir=Path("."), clock=time.time)``
  builds a verifier from ``gateway.auth.jwt`` of unispec.yaml: HS* secret from
  ``secret_env``/``dev_secret``, RS*/ES* PEM ``public_key_file``, ``jwks_file``
  or ``jwks_url`` (loopback only, fetched here, once, never per request).
  Bad settings raise ``GatewayConfigError``.
- ``verifier.verify(token) -> Identity`` / ``verifier.verify_authorization(header_value)``
  raise ``AuthFailure(status=401, code="UNAUTHORIZED"|"TOKEN_EXPIRED", message,
  www_authenticate)``.
- ``authorize(identity, roles=(), scopes=())`` raises ``AuthFailure(403, "FORBIDDEN")``
  unless the identity holds one of ``roles`` (the operation's ``x-roles``) and
  every one of ``scopes`` (the OAuth2 scopes of its security requirement).
- ``AuthPolicy.from_operation(operation, document)`` compiles one operation's
  effective ``security`` + ``x-roles`` (an operation with ``x-roles`` always
  requires a token, even if its ``security`` says it is public);
  ``policy.check(verifier, authorization)`` returns the ``Identity`` (or ``None``
  for public operations) or raises.
- ``identity_headers(identity)`` gives the ``X-User-*`` headers to forward
  upstream; ``is_identity_header(name)`` says which client headers the proxy
  must strip (every ``x-user-*``, in any case, ``_`` or ``-`` spelling), so a
  client can never spoof them. ``IDENTITY_HEADERS`` lists the ones the gateway sets.

Algorithm confusion is impossible by construction: the key is chosen by the
*family* of the token's ``alg`` (HMAC tokens only ever meet the secret, RSA/EC
tokens only ever meet public keys), ``alg`` must be one of the configured
``algorithms``, and ``none`` is refused both in the settings and in tokens.
``exp``/``nbf`` are checked here with the injected clock (plus ``leeway``), so
tests control time and the small verified-token cache stays correct.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import os
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import jwt.types
from jwt.algorithms import get_default_algorithms

from unispec.errors import ConfigError, GatewayConfigError
from unispec.tokens import claim_names, resolve_secret

__all__ = [
    "IDENTITY_HEADERS",
    "AuthFailure",
    "AuthPolicy",
    "Identity",
    "JWTVerifier",
    "authorize",
    "identity_headers",
    "is_identity_header",
]

IDENTITY_HEADERS: tuple[str, ...] = ("x-user-id", "x-user-roles", "x-user-tier", "x-user-scopes")
"""Lower-case names the gateway removes from client requests and sets itself."""


def is_identity_header(name: str | bytes) -> bool:
    """True for any spelling an upstream could read as an identity header.

    CGI/WSGI servers map both ``X-User-Id`` and ``X_User_Id`` to ``HTTP_X_USER_ID``,
    so the underscore spelling must be stripped too; so is anything else under
    the ``x-user-`` prefix, which the gateway reserves for verified identity.
    """
    text = name.decode("latin-1") if isinstance(name, bytes) else name
    return text.lower().replace("_", "-").startswith("x-user-")


_HMAC = frozenset({"HS256", "HS384", "HS512"})
_ASYMMETRIC = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}) | frozenset(
    {"ES256", "ES384", "ES512", "EdDSA"}
)
_REALM = 'Bearer realm="unispec"'
_JWT_KEYS = frozenset(
    {"algorithms", "secret_env", "dev_secret", "public_key_file", "jwks_file", "jwks_url"}
    | {"issuer", "audience", "leeway", "claims", "require_exp"}
)
_CACHE_MAX = 10_000


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the verified token speaks for; what policies and upstreams see."""

    subject: str
    roles: frozenset[str] = frozenset()
    tier: str | None = None
    scopes: frozenset[str] = frozenset()
    claims: Mapping[str, Any] = field(default_factory=dict, compare=False)


class AuthFailure(Exception):
    """A request the gateway refuses: rendered as the error envelope by the app."""

    def __init__(
        self, status: int, code: str, message: str, www_authenticate: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.www_authenticate = www_authenticate

    def headers(self) -> dict[str, str]:
        """Response headers the failure needs (``WWW-Authenticate`` when set)."""
        return {"WWW-Authenticate": self.www_authenticate} if self.www_authenticate else {}


def _quote(text: str) -> str:
    return text.replace("\\", "").replace('"', "'")


def _unauthorized(message: str, *, invalid: bool = True) -> AuthFailure:
    header = f'{_REALM}, error="invalid_token", error_description="{_quote(message)}"'
    return AuthFailure(401, "UNAUTHORIZED", message, header if invalid else _REALM)


def _expired(message: str = "Token has expired") -> AuthFailure:
    header = f'{_REALM}, error="invalid_token", error_description="{_quote(message)}"'
    return AuthFailure(401, "TOKEN_EXPIRED", message, header)


def _claim(payload: Mapping[str, Any], name: str) -> Any:
    """Claim lookup; dotted names reach nested objects (``realm_access.roles``)."""
    if name in payload:
        return payload[name]
    node: Any = payload
    for part in name.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _string_set(value: Any) -> frozenset[str] | None:
    """Roles/scopes as a set: a JSON list of strings or one space-separated string."""
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return frozenset(value)
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _loopback_url(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def fetch_jwks(url: str, timeout: float = 5.0) -> Mapping[str, Any]:
    """Fetch a JWKS document once (start-up only; loopback URLs only)."""
    if not _loopback_url(url):
        raise GatewayConfigError(
            f"unispec.yaml: /gateway/auth/jwt/jwks_url: {url!r} is not a loopback address "
            "(only 127.0.0.0/8, ::1 or localhost are allowed)"
        )
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            data: Any = json.loads(resp.read())
    except (OSError, ValueError) as exc:
        raise GatewayConfigError(
            f"unispec.yaml: /gateway/auth/jwt/jwks_url: cannot load JWKS from {url}: {exc}"
        ) from exc
    if not isinstance(data, Mapping):
        raise GatewayConfigError(f"unispec.yaml: /gateway/auth/jwt/jwks_url: {url}: not a JWKS")
    return data


@dataclass(frozen=True, slots=True)
class _Key:
    key: Any
    algorithms: frozenset[str]
    """Algorithms this key may verify (a JWK's ``alg`` pins it to one)."""


class JWTVerifier:
    """Verifies bearer tokens against keys compiled once from the settings."""

    def __init__(
        self,
        *,
        algorithms: Iterable[str],
        secret: str | None = None,
        public_keys: Mapping[str | None, Sequence[_Key]] | None = None,
        issuer: str | None = None,
        audience: str | Sequence[str] | None = None,
        leeway: float = 30.0,
        claims: Mapping[str, str] | None = None,
        require_exp: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.algorithms = frozenset(algorithms)
        if not self.algorithms:
            raise GatewayConfigError("unispec.yaml: /gateway/auth/jwt/algorithms is empty")
        known = _HMAC | _ASYMMETRIC
        for alg in self.algorithms:
            if alg not in known:
                raise GatewayConfigError(
                    f"unispec.yaml: /gateway/auth/jwt/algorithms: {alg!r} is not allowed "
                    f"(use {', '.join(sorted(known))}; 'none' is never accepted)"
                )
        if self.algorithms & _HMAC and not secret:
            raise GatewayConfigError("unispec.yaml: /gateway/auth/jwt: HS* needs a secret")
        if self.algorithms & _ASYMMETRIC and not public_keys:
            raise GatewayConfigError(
                "unispec.yaml: /gateway/auth/jwt: RS*/ES* need public_key_file, jwks_file "
                "or jwks_url"
            )
        self._secret = secret
        self._keys: Mapping[str | None, Sequence[_Key]] = public_keys or {}
        self.issuer = issuer
        self.audience = audience
        self.leeway = float(leeway)
        self.claims = dict(claims or claim_names(None))
        self.require_exp = require_exp
        self._clock = clock
        self._cache: dict[str, tuple[Identity, float | None, float | None]] = {}
        self._jwt = jwt.PyJWT()

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def from_settings(
        cls,
        jwt_settings: Mapping[str, Any] | None,
        env: Mapping[str, str] | None = None,
        base_dir: Path | None = None,
        *,
        clock: Callable[[], float] = time.time,
        jwks_fetcher: Callable[[str], Mapping[str, Any]] = fetch_jwks,
    ) -> JWTVerifier:
        """Compile ``gateway.auth.jwt``; every key file is read here, not per request."""
        settings = dict(jwt_settings or {})
        unknown = sorted(set(settings) - _JWT_KEYS)
        if unknown:
            raise GatewayConfigError(
                f"unispec.yaml: /gateway/auth/jwt/{unknown[0]}: unknown key "
                f"(known: {', '.join(sorted(_JWT_KEYS))})"
            )
        env = os.environ if env is None else env
        base = base_dir or Path(".")
        algorithms = settings.get("algorithms") or ["HS256"]
        if isinstance(algorithms, str):
            algorithms = [algorithms]
        if not isinstance(algorithms, list) or not all(isinstance(a, str) for a in algorithms):
            raise GatewayConfigError(
                "unispec.yaml: /gateway/auth/jwt/algorithms must be a list of names"
            )
        algs = frozenset(algorithms)
        try:
            names = claim_names(settings)
        except ConfigError as exc:
            raise GatewayConfigError(exc.message) from exc
        secret = None
        if algs & _HMAC:
            try:
                secret = resolve_secret(settings, env)
            except ConfigError as exc:
                raise GatewayConfigError(exc.message) from exc
        keys: dict[str | None, list[_Key]] = {}
        asym = algs & _ASYMMETRIC
        if settings.get("public_key_file"):
            path = base / str(settings["public_key_file"])
            try:
                pem = path.read_bytes()
            except OSError as exc:
                raise GatewayConfigError(
                    f"unispec.yaml: /gateway/auth/jwt/public_key_file: cannot read {path}: {exc}"
                ) from exc
            public_key = _load_pem(pem, path, asym)
            usable = asym & _family(public_key)
            if not usable:
                raise GatewayConfigError(
                    f"unispec.yaml: /gateway/auth/jwt/public_key_file: {path} holds a "
                    f"{type(public_key).__name__}, which verifies none of "
                    f"{', '.join(sorted(asym))}"
                )
            keys.setdefault(None, []).append(_Key(public_key, usable))
        jwks: Mapping[str, Any] | None = None
        if settings.get("jwks_file"):
            path = base / str(settings["jwks_file"])
            try:
                jwks = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise GatewayConfigError(
                    f"unispec.yaml: /gateway/auth/jwt/jwks_file: cannot load {path}: {exc}"
                ) from exc
        elif settings.get("jwks_url"):
            url = str(settings["jwks_url"])
            if not _loopback_url(url):
                raise GatewayConfigError(
                    f"unispec.yaml: /gateway/auth/jwt/jwks_url: {url!r} is not a loopback address"
                )
            jwks = jwks_fetcher(url)
        if jwks is not None:
            for kid, key in _load_jwks(jwks, asym):
                keys.setdefault(kid, []).append(key)
                if kid is not None:
                    keys.setdefault(None, []).append(key)
        audience = settings.get("audience")
        leeway = settings.get("leeway", 30)
        if not _is_number(leeway) or leeway < 0:
            raise GatewayConfigError("unispec.yaml: /gateway/auth/jwt/leeway must be >= 0 seconds")
        return cls(
            algorithms=algs,
            secret=secret,
            public_keys=keys,
            issuer=settings.get("issuer") or None,
            audience=audience or None,
            leeway=float(leeway),
            claims=names,
            require_exp=bool(settings.get("require_exp", True)),
            clock=clock,
        )

    # -- verification ---------------------------------------------------------------------

    def verify_authorization(self, authorization: str | None) -> Identity:
        """Verify an ``Authorization`` header value (``Bearer <jwt>``)."""
        if not authorization:
            raise _unauthorized("Missing bearer token", invalid=False)
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("Authorization header must be 'Bearer <token>'")
        return self.verify(token.strip())

    def verify(self, token: str) -> Identity:
        """The token's identity, or ``AuthFailure`` (401) saying why not."""
        now = self._clock()
        hit = self._cache.get(token)
        if hit is not None:
            identity, exp, nbf = hit
            self._check_times(exp, nbf, now)
            return identity
        identity, exp, nbf = self._decode(token)
        self._check_times(exp, nbf, now)
        cache = self._cache
        if len(cache) >= _CACHE_MAX:
            # Forget the oldest tenth (dicts keep insertion order): cheap, and a busy
            # gateway with more live tokens than the cache holds keeps most hits.
            for old in list(itertools.islice(cache, _CACHE_MAX // 10)):
                del cache[old]
        cache[token] = (identity, exp, nbf)
        return identity

    def _check_times(self, exp: float | None, nbf: float | None, now: float) -> None:
        if exp is not None and now >= exp + self.leeway:
            raise _expired()
        if nbf is not None and now < nbf - self.leeway:
            raise _unauthorized("Token is not valid yet (nbf)")

    def _decode(self, token: str) -> tuple[Identity, float | None, float | None]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _unauthorized("Malformed token") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise _unauthorized(f"Token algorithm {alg!r} is not accepted")
        if alg in _HMAC:
            candidates: Sequence[Any] = [self._secret]
        else:
            kid = header.get("kid")
            pool = self._keys.get(kid) if isinstance(kid, str) else self._keys.get(None)
            if pool is None and isinstance(kid, str):
                raise _unauthorized("Unknown signing key (kid)")
            candidates = [k.key for k in (pool or ()) if alg in k.algorithms]
            if not candidates:
                raise _unauthorized("No key for this token's algorithm")
        options: jwt.types.Options = {
            "verify_exp": False,
            "verify_nbf": False,
            "verify_iat": False,
            "verify_iss": self.issuer is not None,
            "verify_aud": self.audience is not None,
            "require": [],
        }
        payload: dict[str, Any] | None = None
        last: Exception | None = None
        for key in candidates:
            try:
                payload = self._jwt.decode(
                    token,
                    key,
                    algorithms=[alg],
                    options=options,
                    issuer=self.issuer,
                    audience=self.audience,
                )
                break
            except jwt.InvalidSignatureError as exc:
                last = exc
            except jwt.InvalidIssuerError:
                raise _unauthorized("Token issuer is not accepted") from None
            except jwt.InvalidAudienceError:
                raise _unauthorized("Token audience is not accepted") from None
            except jwt.MissingRequiredClaimError as exc:
                raise _unauthorized(f"Token lacks the {exc.claim!r} claim") from None
            except (jwt.PyJWTError, ValueError, TypeError):
                raise _unauthorized("Invalid token") from None
        if payload is None:
            raise _unauthorized("Invalid token signature") from last
        return self._identity(payload)

    def _identity(self, payload: dict[str, Any]) -> tuple[Identity, float | None, float | None]:
        exp = payload.get("exp")
        nbf = payload.get("nbf")
        if exp is None and self.require_exp:
            raise _unauthorized("Token lacks the 'exp' claim")
        if exp is not None and not _is_number(exp):
            raise _unauthorized("Token 'exp' must be a number")
        if nbf is not None and not _is_number(nbf):
            raise _unauthorized("Token 'nbf' must be a number")
        subject = _claim(payload, self.claims["subject"])
        if not isinstance(subject, str | int) or isinstance(subject, bool) or subject == "":
            raise _unauthorized(f"Token lacks a {self.claims['subject']!r} (subject) claim")
        roles = _string_set(_claim(payload, self.claims["roles"]))
        if roles is None:
            raise _unauthorized(f"Token claim {self.claims['roles']!r} must be a list of strings")
        scopes = _string_set(_claim(payload, self.claims["scopes"]))
        if scopes is None:
            raise _unauthorized(f"Token claim {self.claims['scopes']!r} must be strings")
        tier = _claim(payload, self.claims["tier"])
        if tier is not None and not isinstance(tier, str):
            raise _unauthorized(f"Token claim {self.claims['tier']!r} must be a string")
        identity = Identity(str(subject), roles, tier, scopes, payload)
        return (
            identity,
            (float(exp) if exp is not None else None),
            (float(nbf) if nbf is not None else None),
        )


def _family(public_key: Any) -> frozenset[str]:
    """The algorithms a public key can verify (an RSA key never checks an ES256 token)."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

    if isinstance(public_key, rsa.RSAPublicKey):
        return frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return frozenset({"ES256", "ES384", "ES512"})
    if isinstance(public_key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return frozenset({"EdDSA"})
    return frozenset()


def _load_pem(pem: bytes, path: Path, algorithms: frozenset[str]) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    from cryptography.x509 import load_pem_x509_certificate

    if not algorithms:
        raise GatewayConfigError(
            f"unispec.yaml: /gateway/auth/jwt/public_key_file is set ({path}) but algorithms "
            "names no RS*/ES* algorithm"
        )
    try:
        if b"BEGIN CERTIFICATE" in pem:
            return load_pem_x509_certificate(pem).public_key()
        return load_pem_public_key(pem)
    except ValueError as exc:
        hint = " (a private key? configure the PUBLIC key)" if b"PRIVATE" in pem else ""
        raise GatewayConfigError(
            f"unispec.yaml: /gateway/auth/jwt/public_key_file: {path} is not a PEM public key"
            f"{hint}: {exc}"
        ) from exc


def _load_jwks(
    jwks: Mapping[str, Any], algorithms: frozenset[str]
) -> list[tuple[str | None, _Key]]:
    keys = jwks.get("keys")
    if not isinstance(keys, list) or not keys:
        raise GatewayConfigError("unispec.yaml: /gateway/auth/jwt: the JWKS has no 'keys'")
    registry = get_default_algorithms()
    family = {"RSA": {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}}
    family["EC"] = {"ES256", "ES384", "ES512"}
    family["OKP"] = {"EdDSA"}
    out: list[tuple[str | None, _Key]] = []
    for jwk in keys:
        if not isinstance(jwk, Mapping) or jwk.get("use", "sig") != "sig":
            continue
        kty = jwk.get("kty")
        if kty == "oct":
            # Symmetric keys never come from a JWKS: a published HMAC key is no secret.
            continue
        allowed = frozenset(family.get(str(kty), set())) & algorithms
        if isinstance(jwk.get("alg"), str):
            allowed &= {jwk["alg"]}
        if not allowed:
            continue
        try:
            key = registry[sorted(allowed)[0]].from_jwk(json.dumps(dict(jwk)))
        except (jwt.PyJWTError, ValueError, KeyError, TypeError) as exc:
            raise GatewayConfigError(
                f"unispec.yaml: /gateway/auth/jwt: bad JWK {jwk.get('kid')!r}: {exc}"
            ) from exc
        kid = jwk.get("kid")
        out.append((kid if isinstance(kid, str) else None, _Key(key, allowed)))
    if not out:
        raise GatewayConfigError(
            "unispec.yaml: /gateway/auth/jwt: the JWKS holds no signing key for the configured "
            f"algorithms ({', '.join(sorted(algorithms)) or 'none'})"
        )
    return out


def authorize(identity: Identity, roles: Iterable[str] = (), scopes: Iterable[str] = ()) -> None:
    """403 unless ``identity`` has one of ``roles`` and all of ``scopes``."""
    wanted = tuple(roles)
    if wanted and identity.roles.isdisjoint(wanted):
        raise AuthFailure(
            403,
            "FORBIDDEN",
            f"This operation requires one of the roles: {', '.join(wanted)}",
        )
    needed = tuple(scopes)
    missing = [s for s in needed if s not in identity.scopes]
    if missing:
        raise AuthFailure(
            403,
            "FORBIDDEN",
            f"This operation requires the scopes: {' '.join(needed)}",
            f'{_REALM}, error="insufficient_scope", scope="{_quote(" ".join(needed))}"',
        )


def identity_headers(identity: Identity) -> list[tuple[str, str]]:
    """The verified identity as upstream request headers (roles comma-separated, sorted)."""
    headers = [("x-user-id", identity.subject)]
    headers.append(("x-user-roles", ",".join(sorted(identity.roles))))
    if identity.tier:
        headers.append(("x-user-tier", identity.tier))
    if identity.scopes:
        headers.append(("x-user-scopes", " ".join(sorted(identity.scopes))))
    return headers


@dataclass(frozen=True, slots=True)
class AuthPolicy:
    """One operation's compiled access rule.

    ``alternatives`` mirrors OpenAPI: the request passes when any one security
    requirement is met. Each alternative is ``None`` (anonymous allowed: ``{}``)
    or the tuple of scopes its bearer/OAuth2 scheme demands.
    """

    required: bool
    roles: tuple[str, ...] = ()
    scopes: tuple[tuple[str, ...], ...] = ()
    optional: bool = False
    """True for ``security: [{}, {bearerAuth: []}]``: verify a token if one is sent."""

    @classmethod
    def from_operation(
        cls, operation: Mapping[str, Any], document: Mapping[str, Any]
    ) -> AuthPolicy:
        """Effective security (operation's, else the document's) + ``x-roles``."""
        security = operation.get("security", document.get("security", []))
        schemes = (document.get("components") or {}).get("securitySchemes") or {}
        roles = tuple(str(r) for r in operation.get("x-roles") or ())
        alternatives: list[tuple[str, ...]] = []
        anonymous = not security
        for requirement in security or ():
            if not requirement:
                anonymous = True
                continue
            scopes: list[str] = []
            usable = True
            for name, wanted in requirement.items():
                scheme = schemes.get(name) or {}
                kind = scheme.get("type")
                bearer = kind == "http" and str(scheme.get("scheme", "")).lower() == "bearer"
                if bearer or kind in ("oauth2", "openIdConnect"):
                    scopes.extend(str(s) for s in wanted or ())
                else:
                    usable = False  # api keys etc. are not the gateway's to check
            if usable:
                alternatives.append(tuple(scopes))
        if roles:
            # x-roles means "the JWT must carry one of them": a contract that also says
            # "public" contradicts itself, and the safe reading is to require the token.
            return cls(required=True, roles=roles, scopes=tuple(alternatives) or ((),))
        if anonymous:
            return cls(required=False, roles=(), optional=bool(alternatives))
        if not alternatives:
            return cls(required=False)
        return cls(required=True, roles=roles, scopes=tuple(alternatives))

    def check(self, verifier: JWTVerifier | None, authorization: str | None) -> Identity | None:
        """The caller's identity (``None`` when anonymous is fine) or ``AuthFailure``."""
        if not self.required:
            if self.optional and authorization and verifier is not None:
                return verifier.verify_authorization(authorization)
            return None
        if verifier is None:
            raise AuthFailure(503, "SERVICE_UNAVAILABLE", "Authentication is not configured")
        identity = verifier.verify_authorization(authorization)
        if self.roles:
            authorize(identity, self.roles)
        if any(self.scopes):
            failure: AuthFailure | None = None
            for needed in self.scopes:
                try:
                    authorize(identity, (), needed)
                    return identity
                except AuthFailure as exc:
                    failure = failure or exc
            assert failure is not None
            raise failure
        return identity
