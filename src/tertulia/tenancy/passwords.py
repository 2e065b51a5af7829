from __future__ import annotations

from pwdlib import PasswordHash

from tertulia.kit.errors import Invalid

_hasher = PasswordHash.recommended()  # argon2id
# Computed once so a login for an unknown email costs the same as one for a known email.
_DUMMY_HASH = _hasher.hash("tertulia-timing-equaliser")

COMMON = {"password", "password123", "1234567890", "qwertyuiop", "contraseña", "contrasena123", "tertulia123"}


def check_password_strength(password: str) -> None:
    if len(password) < 10:
        raise Invalid("the password must have at least 10 characters", code="weak_password")
    if len(password) > 256:
        raise Invalid("the password must have at most 256 characters", code="weak_password")
    if password.lower() in COMMON or len(set(password)) < 4:
        raise Invalid("the password is too easy to guess", code="weak_password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    if password_hash is None:
        _hasher.verify(password, _DUMMY_HASH)
        return False
    try:
        return _hasher.verify(password, password_hash)
    except Exception:  # a malformed stored hash is a failed login, not a crash
        return False
