"""Secrets: Argon2id password hashing, random session/CSRF/API-token secrets and their SHA-256 digests.

Only digests of session ids, CSRF tokens and API tokens are ever stored. Passwords are hashed with
argon2-cffi's ``PasswordHasher`` defaults (Argon2id); a hash made with older parameters is replaced at the
next successful login (:func:`needs_rehash`).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
import secrets
import threading
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
_dummy_hash: str | None = None
_dummy_lock = threading.Lock()

TOKEN_PREFIX = "mm"
TOKEN_RE = re.compile(r"^mm_([a-z0-9]{8})_([A-Za-z0-9_-]{43})$")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; a cap keeps a 2 MB "password" from being hashed

# A small list of the most common passwords of 10+ characters (and obvious placeholders). Not a full
# breach corpus: it stops the passwords every credential-stuffing list tries first.
COMMON_PASSWORDS = frozenset([
    "1234567890", "0123456789", "12345678910", "123456789a", "1234567890a", "1q2w3e4r5t", "1qaz2wsx3edc",
    "qwertyuiop", "qwertyuiop1", "qwerty1234", "qwerty12345", "qwerty123456", "password12", "password123",
    "password1234", "password12345", "passw0rd123", "password!!", "password01", "passwordpassword",
    "iloveyou12", "iloveyou123", "letmein123", "letmein1234", "welcome123", "welcome1234", "changeme123",
    "changeme1234", "changemenow", "administrator", "admin12345", "admin123456", "adminadmin", "adminadmin123",
    "rootroot12", "abcdefghij", "abcdefghijk", "abc1234567", "aaaaaaaaaa", "1111111111", "0000000000",
    "9876543210", "987654321a", "1234512345", "football123", "baseball123", "superman123", "sunshine123",
    "princess123", "dragon1234", "monkey12345", "trustno1234", "starwars123", "michael123", "jennifer123",
    "computer123", "internet123", "whatever123", "qazwsxedcrfv", "zaq12wsxcde", "asdfghjkl1", "asdfghjkl;",
    "zxcvbnm123", "zxcvbnm1234", "1q2w3e4r5t6y", "q1w2e3r4t5", "q1w2e3r4t5y6", "mypassword", "mypassword1",
    "secret1234", "secret12345", "modelmate123", "modelmate1234", "modelmatepassword", "placeholder",
    "defaultpassword", "default123", "temporary1", "temppassword"
])


class PasswordPolicyError(ValueError):
    pass


def check_password_policy(password: str, *, username: str | None = None, email: str | None = None) -> None:
    """Raise :class:`PasswordPolicyError` with a human message when the password is too weak."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"password must be at most {MAX_PASSWORD_LENGTH} characters")
    folded = password.casefold()
    if folded in COMMON_PASSWORDS or len(set(folded)) <= 2:
        raise PasswordPolicyError("this password is too common; choose another")
    if username and folded == username.casefold():
        raise PasswordPolicyError("password must not be the username")
    if email and folded == email.casefold():
        raise PasswordPolicyError("password must not be the email address")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-work check: an unknown user (no hash) is verified against a dummy hash, then refused."""
    if not password_hash:
        with contextlib.suppress(VerificationError, InvalidHashError):
            _hasher.verify(_get_dummy_hash(), password)
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def _get_dummy_hash() -> str:
    global _dummy_hash
    with _dummy_lock:
        if _dummy_hash is None:
            _dummy_hash = _hasher.hash(secrets.token_urlsafe(24))
        return _dummy_hash


def digest(secret: str) -> str:
    """SHA-256 hex digest: what the database stores for session ids, CSRF tokens and API tokens."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret() -> str:
    """32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def digests_match(secret: str | None, stored_digest: str | None) -> bool:
    if not secret or not stored_digest:
        return False
    return hmac.compare_digest(digest(secret), stored_digest)


@dataclass(frozen=True)
class NewToken:
    token: str
    prefix: str
    token_hash: str


def new_api_token() -> NewToken:
    """``mm_<8 char prefix>_<43 char secret>``; the prefix is shown in lists, the whole token only once."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    prefix = "".join(secrets.choice(alphabet) for _ in range(8))
    token = f"{TOKEN_PREFIX}_{prefix}_{new_secret()}"
    return NewToken(token=token, prefix=prefix, token_hash=digest(token))


def looks_like_api_token(value: str) -> bool:
    return bool(TOKEN_RE.match(value))
