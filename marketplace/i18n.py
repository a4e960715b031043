"""Languages. The API speaks English to programs unless a request asks for Chinese
(``Accept-Language: zh-CN``); the console speaks Chinese to people. Both render the service's
reasons (``reasons.py``) from their codes, through Flask-Babel and the message catalogs under
``marketplace/translations`` (``<language>/LC_MESSAGES/messages.po``, compiled to ``.mo`` by
``make``). A reason's context is its code and its message id its English template, so one
English sentence may read differently under two codes.

Amounts in a reason's parameters are fen (``*_fen``); a translation shows one in yuan by
asking ``{price_fen:yuan}`` (``68.00``).

``flask i18n update`` writes the catalog template from every reason declared and brings each
language's catalog up to it; ``flask i18n compile`` (which ``make`` runs) compiles them.
"""

from pathlib import Path

import click
from flask import Flask, g, has_app_context, has_request_context, request
from flask.cli import AppGroup
from flask_babel import Babel, force_locale, pgettext
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from marketplace.reasons import REASONS, Message

DEFAULT = "en"
LANGUAGES = ("en", "zh")
TRANSLATIONS = Path(__file__).parent / "translations"

babel = Babel()


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    babel.init_app(app, locale_selector=response_language)


def speak(language: str) -> None:
    """Answer this request in ``language`` whatever it asks (the console: Chinese)."""
    g.language = language


def response_language() -> str:
    """The language of this request's answer: the one it set (``speak``), else the best of its
    ``Accept-Language`` that we have, else English."""
    if not has_request_context():
        return DEFAULT
    if "language" in g:
        return g.language
    return language_accepted(request.headers.get("Accept-Language"))


def language_accepted(accept_language: str | None) -> str:
    """The best of an ``Accept-Language`` header's languages that we have, else English."""
    accepted = parse_accept_header(accept_language, LanguageAccept)
    return accepted.best_match(LANGUAGES, default=DEFAULT)


class _Fen(int):
    """An amount of fen that a translation may show in yuan: ``{amount_fen:yuan}``."""

    def __format__(self, spec: str) -> str:
        if spec == "yuan":
            sign = "-" if self < 0 else ""
            return f"{sign}{abs(self) // 100}.{abs(self) % 100:02d}"
        return int.__format__(int(self), spec)


def _presented(params: dict) -> dict:
    return {
        name: _Fen(value) if name.endswith("_fen") and isinstance(value, int) else value
        for name, value in params.items()
    }


def in_language(message, language: str) -> str:
    """``message`` as people reading ``language`` read it: a reason's translation filled with
    its parameters; its English text where there is none, and for any other text."""
    if language == DEFAULT or not isinstance(message, Message):
        return str(message)
    known = REASONS.get(message.code)
    if known is None or not has_app_context():
        return str(message)
    with force_locale(language):
        template = pgettext(message.code, known.template)
    if template == known.template:
        return str(message)
    try:
        return template.format_map(_presented(message.params))
    except (KeyError, IndexError, ValueError):
        # A translation naming a value this message was not given (``{min_fen:yuan}`` where
        # a caller passed only ``min``): the English says it right, a refusal never fails.
        return str(message)


def kept_in_language(kept: dict, language: str) -> str:
    """A reason kept in a row as its code and parameters (``reasons.coded``), as people
    reading ``language`` read it: its code where no reason of that code is declared."""
    declared = REASONS.get(kept["code"])
    if declared is None:
        return kept["code"]
    return in_language(declared(**kept.get("params", {})), language)


# --- the catalogs -----------------------------------------------------------------------------


def reasons_catalog():
    """Every declared reason as a message to translate: its English template, in the context
    of its code, with the parameters it offers a translation in the comment."""
    from babel.messages.catalog import Catalog

    catalog = Catalog(project="village-marketplace", fuzzy=False)
    for code in sorted(REASONS):
        known = REASONS[code]
        parameters = known.parameters
        catalog.add(
            known.template,
            context=code,
            auto_comments=[f"parameters: {', '.join(parameters)}"] if parameters else [],
            flags=("python-brace-format",) if parameters else (),
        )
    return catalog


def update_catalogs() -> dict[str, int]:
    """Write the template (``messages.pot``) of every reason declared, and bring each
    language's catalog up to it: new reasons to translate, gone ones dropped. Returns the
    reasons still untranslated, by language."""
    from babel.messages.pofile import read_po, write_po

    template = reasons_catalog()
    with open(TRANSLATIONS / "messages.pot", "wb") as out:
        write_po(out, template, width=100, omit_header=False)
    untranslated = {}
    for language in LANGUAGES:
        if language == DEFAULT:
            continue
        path = TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with open(path, "rb") as source:
                catalog = read_po(source, locale=language)
            catalog.update(template, no_fuzzy_matching=True)
        else:
            catalog = template
            catalog.locale = language
        with open(path, "wb") as out:
            write_po(out, catalog, width=100, ignore_obsolete=True)
        untranslated[language] = sum(1 for m in catalog if m.id and not m.string)
    return untranslated


def compile_catalogs() -> None:
    """Each language's ``messages.po`` to the ``messages.mo`` Flask-Babel reads."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for path in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        with open(path, "rb") as source:
            catalog = read_po(source)
        with open(path.with_suffix(".mo"), "wb") as out:
            write_mo(out, catalog)


i18n_cli = AppGroup("i18n", help="The message catalogs of the service's reasons.")


@i18n_cli.command("update")
def update_command() -> None:
    """Write messages.pot from the reasons declared; update each language's catalog."""
    for language, count in update_catalogs().items():
        click.echo(f"{language}: {count} reasons to translate")


@i18n_cli.command("compile")
def compile_command() -> None:
    """Compile each language's catalog (messages.po) to messages.mo."""
    compile_catalogs()
