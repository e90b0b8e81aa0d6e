"""API schemas for accounts, sessions, API tokens and user administration."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

USERNAME_RE = re.compile(r"^[a-z0-9_-]{3,32}$")
# Deliberately plain: one @, a dot in the domain, no spaces or control characters. Delivery is the real test.
EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
RESERVED_USERNAMES = frozenset({"local", "admin", "root", "system", "api", "me", "anonymous", "modelmate"})


def normalise_username(v: str) -> str:
    v = v.strip().lower()
    if not USERNAME_RE.match(v):
        raise ValueError("must be 3–32 characters: lowercase letters, digits, '_' or '-'")
    if v in RESERVED_USERNAMES:
        raise ValueError(f"'{v}' is reserved; choose another username")
    return v


def normalise_email(v: str) -> str:
    v = v.strip()
    if len(v) > 254 or not EMAIL_RE.match(v) or ".." in v:
        raise ValueError("is not a valid email address")
    local, _, domain = v.partition("@")
    return f"{local}@{domain.lower()}"


Username = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(normalise_username)]
Email = Annotated[str, Field(min_length=3, max_length=320), AfterValidator(normalise_email)]
Password = Annotated[str, Field(min_length=1, max_length=1024, json_schema_extra={"format": "password"})]


class SignupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Username = Field(..., description="3–32 characters: a-z, 0-9, '_' or '-'")
    email: Email = Field(..., description="Email address")
    password: Password = Field(..., description="At least 10 characters, not a common password")
    setup_token: Annotated[str, Field(max_length=200, json_schema_extra={"format": "password"})] | None = Field(
        None, description="The one-time setup token from the server's log: needed only for the first account "
                          "(see AuthState.setup_required); ignored afterwards")


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Annotated[str, Field(min_length=1, max_length=320)] = Field(..., description="Username or email")
    password: Password

    @field_validator("username")
    @classmethod
    def _printable(cls, v: str) -> str:
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in v):  # NUL and friends: PostgreSQL refuses them in text
            raise ValueError("must not contain control characters")
        return v


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: Password
    new_password: Password


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    email: str | None
    display_name: str | None
    is_admin: bool
    is_active: bool
    is_local: bool
    created_at: datetime


class AuthState(BaseModel):
    mode: Literal["single_user", "accounts"]
    user: UserOut | None
    signup_open: bool
    setup_required: bool = Field(..., description="No account exists yet: signing up (the first account, an "
                                                  "administrator) needs the setup token printed in the server's log")


class UserPage(BaseModel):
    items: list[UserOut]
    total: int
    limit: int
    offset: int


class UserAdminUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    is_active: bool | None = None
    is_admin: bool | None = None


Scope = Literal["read", "write"]


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)] = Field(..., description="What the token is for")
    scopes: list[Scope] = Field(default_factory=lambda: list[Scope](["read"]), min_length=1, max_length=2,
                                description='["read"] or ["read", "write"]')
    expires_in_days: int | None = Field(None, ge=1, le=3650, description="Days until it expires; null: never")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = " ".join(v.split())
        if not v:
            raise ValueError("name must not be blank")
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in v):
            raise ValueError("name must not contain control characters")
        return v

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, v: list[str]) -> list[str]:
        s = set(v)
        if s == {"read"}:
            return ["read"]
        if s == {"read", "write"} or s == {"write"}:
            return ["read", "write"]
        raise ValueError('must be ["read"] or ["read", "write"]')


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class TokenCreated(TokenOut):
    token: str = Field(..., description="The secret token. Shown once: store it now.")
