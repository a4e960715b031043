"""Signing in to the console: the API's accounts and tokens, carried in a session cookie.

A console sign-in is an API login (``accounts.service.login``: the same passwords, the same
throttling, a token row with the same lifetime); the token travels in Flask's signed session
cookie (HttpOnly, SameSite=Lax, Secure in production) and resolves to the actor exactly as a
bearer token does, so revoking the token or deactivating the user ends the console session
too. Each session has a CSRF token that every form posts back.
"""

import functools
import hmac
import secrets

from flask import Flask, abort, current_app, g, redirect, request, session, url_for

from marketplace import instance_keys
from marketplace.accounts import service as accounts
from marketplace.accounts.auth import Actor, actor_for_token
from marketplace.accounts.models import Role
from marketplace.extensions import db


def init_app(app: Flask) -> None:
    # The cookie's SameSite, HttpOnly and Secure come from the configuration (config.py):
    # Flask's own defaults already name them, so they are set there, never defaulted here.
    app.secret_key = _secret_key(app)
    app.config["PERMANENT_SESSION_LIFETIME"] = app.config["TOKEN_LIFETIME"]


def _secret_key(app: Flask) -> str:
    """``SECRET_KEY`` signs the session cookie. Without one, development generates it once
    into the instance folder (so sign-ins survive a restart); production refuses to start."""
    configured = app.config.get("SECRET_KEY")
    if configured:
        return configured
    if app.config.get("ENV_NAME") == "production":
        raise RuntimeError("SECRET_KEY must be set in production")
    return instance_keys.read_or_create(
        app.config["SESSION_KEY_FILE"], lambda: secrets.token_urlsafe(48)
    )


def sign_in(username: str, password: str) -> Actor:
    """Log in as the API does; raises its NotAuthenticated or TooManyRequests."""
    config = current_app.config
    _, token = accounts.login(
        db.session,
        username,
        password,
        remote_addr=request.remote_addr or "unknown",
        lifetime=config["TOKEN_LIFETIME"],
        limits=accounts.LoginLimits.from_config(config),
    )
    session.clear()
    session.permanent = True
    session["token"] = token
    session["csrf"] = secrets.token_urlsafe(32)
    g.actor = actor_for_token(db.session, token)
    return g.actor


def sign_out() -> None:
    token = session.get("token")
    if token:
        accounts.revoke_presented_token(db.session, token)
    session.clear()


def current_console_actor() -> Actor | None:
    """The signed-in actor, or None: from the session's token, as the API resolves a bearer."""
    if "actor" not in g:
        token = session.get("token")
        g.actor = actor_for_token(db.session, token) if token else None
    return g.actor


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf() -> None:
    """A form that changes something must carry this session's token: a page on another site
    can make the browser post here with our cookie, but cannot read the token."""
    expected = session.get("csrf")
    sent = request.form.get("csrf_token", "")
    if not expected or not hmac.compare_digest(expected, sent):
        abort(400, description="这个表单已过期或来自别的网站，请刷新页面后重试。")


def signed_in(*roles: Role):
    """The page needs a signed-in user (else the sign-in page, then back here), and one of
    ``roles`` when given (else 403)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            actor = current_console_actor()
            if actor is None:
                return redirect(url_for("console.sign_in_page", next=here()))
            if roles and actor.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def here() -> str:
    """This page's address to come back to after signing in: its path, and its query if it
    has one (``request.full_path`` ends in a bare ``?`` when it has none)."""
    return request.full_path.removesuffix("?")


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path of ours, never another site, and nothing
    that could break out of the Location header (a CR or LF, any control character)."""
    if (
        target
        and target.startswith("/console")
        and not target.startswith("//")
        and target.isprintable()
        and "\\" not in target
    ):
        return target
    return url_for("console.home")
